package dispatch

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A pull's statuses read as the client's Fetch reads them: heartbeats go
// on, the request's expiry ends it quietly, errors end it with theirs.
func TestPullStatus(t *testing.T) {
	status := func(code, descr string) *nats.Msg {
		return &nats.Msg{Header: nats.Header{"Status": []string{code}, "Description": []string{descr}}}
	}
	tests := []struct {
		name string
		msg  *nats.Msg
		user bool
		err  error
	}{
		{"a message", &nats.Msg{Data: []byte("{}"), Header: nats.Header{"Nats-Msg-Id": []string{"1"}}}, true, nil},
		{"an empty message without headers", &nats.Msg{}, true, nil},
		{"heartbeat", status("100", "Idle Heartbeat"), false, nil},
		{"request timeout", status("408", "Request Timeout"), false, errPullEnded},
		{"no messages", status("404", "No Messages"), false, errPullEnded},
		{"max bytes", status("409", "Message Size Exceeds MaxBytes"), false, errPullEnded},
		{"bad request (another incarnation's group)", status("400", "Bad Request - Invalid Priority Group"), false, jetstream.ErrBadRequest},
		{"no responders", status("503", ""), false, nats.ErrNoResponders},
		{"consumer deleted", status("409", "Consumer Deleted"), false, jetstream.ErrConsumerDeleted},
		{"leadership change", status("409", "Leadership Change"), false, jetstream.ErrConsumerLeadershipChanged},
		{"server shutdown", status("409", "Server Shutdown"), false, jetstream.ErrServerShutdown},
	}
	for _, tt := range tests {
		user, err := pullStatus(tt.msg)
		if user != tt.user || !errors.Is(err, tt.err) {
			t.Errorf("%s: user %v, err %v; want %v, %v", tt.name, user, err, tt.user, tt.err)
		}
	}
	if user, err := pullStatus(status("409", "Exceeded MaxWaiting")); user || err == nil || err.Error() != "nats: Exceeded MaxWaiting" {
		t.Errorf("another conflict: user %v, err %v; want its description", user, err)
	}
}
