package eventbridge_test

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

// api.allow: [endpoint] without private_networks lets an API sink choose
// its endpoint, not reach loopback with the gateway's signed requests: the
// client dials through the SSRF guard.
func TestAPIEndpointDialsThroughGuard(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAGATEWAYIDENTITY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "gateway-secret")
	cfg := config.Defaults()
	cfg.API.Allow = []string{config.AllowEndpoint}
	spec := `{"name":"eb","events":[">"],"eventbridge":{"region":"us-east-1","source":"shop","endpoint":"` + srv.URL + `","timeout":"3s"}}`
	s, err := config.Loader{}.ParseSink([]byte(spec), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fe := cfg.API.APIRestrictions(s); len(fe) > 0 {
		t.Fatalf("endpoint allowed: %v", fe)
	}
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
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests signed with the gateway's identity", n)
	}
}
