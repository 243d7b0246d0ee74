package sinktest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// RequireGuardRefusal judges spec (one sink, as JSON) as the admin API
// does with api.allow set to allow: ParseSink, then APIRestrictions, which
// must accept it. Then it requires RequireSendRefused of the sink. An API
// sink allowed its endpoint but not private_networks must still never
// reach a loopback destination; the caller checks that its destination
// saw nothing, since only it knows how to count.
func RequireGuardRefusal(t *testing.T, spec string, allow ...string) {
	t.Helper()
	cfg := config.Defaults()
	cfg.API.Allow = allow
	s, err := config.Loader{}.ParseSink([]byte(spec), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fe := cfg.API.APIRestrictions(s); len(fe) > 0 {
		t.Fatalf("api.allow %v: APIRestrictions refused the sink: %v", allow, fe)
	}
	RequireSendRefused(t, s)
}

// RequireSendRefused opens s and sends it one event, and fails t unless
// that send is the SSRF guard's permanent refusal.
func RequireSendRefused(t *testing.T, s config.Sink) {
	t.Helper()
	ctx := context.Background()
	d, err := sink.Open(ctx, s, sink.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	err = d.Send(ctx, []*event.Event{{ID: "e1", Type: "t", Time: time.Now(), Data: []byte(`{}`)}})
	var blocked *netguard.BlockedError
	if c := sink.Classify(err); !errors.As(err, &blocked) || c.Class != sink.Permanent {
		t.Errorf("Send = %v (%v), want the SSRF guard's permanent refusal", err, c.Class)
	}
}

// AWSLoopback is a loopback server, refusing (403) and counting every
// request, while the test's environment holds the gateway's AWS identity:
// what an API sink's AWS client must never sign a request for. It
// returns the server's URL and its count of requests.
func AWSLoopback(t *testing.T) (url string, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAGATEWAYIDENTITY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "gateway-secret")
	return srv.URL, hits
}
