package event_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// The ingest API scopes Nats-Msg-Id per tenant and source so that two
// tenants' id "1" are both stored; receivers still see the producer's id.
func TestIDScopeStripped(t *testing.T) {
	tests := []struct {
		name, msgID, scope, want string
	}{
		{"scoped id loses its scope", "api/acme/1", "api/acme/", "1"},
		{"no scope header keeps the id", "api/acme/1", "", "api/acme/1"},
		{"a scope the id does not start with is ignored", "plain-1", "api/acme/", "plain-1"},
		{"an id that is only the scope is kept whole", "api/acme/", "api/acme/", "api/acme/"},
		{"scope matched once, not repeatedly", "src/s/src/s/9", "src/s/", "src/s/9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string][]string{event.HeaderMsgID: {tt.msgID}}
			if tt.scope != "" {
				h[event.HeaderIDScope] = []string{tt.scope}
			}
			e, err := event.FromMessage(event.Message{Subject: "tenants.acme.order.created", Stream: "EVENTS", Sequence: 1, Header: h}, "events.")
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.want {
				t.Errorf("id %q, want %q", e.ID, tt.want)
			}
		})
	}
}
