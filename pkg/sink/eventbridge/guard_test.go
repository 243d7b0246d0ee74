package eventbridge_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
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
	spec := `{"name":"eb","events":[">"],"eventbridge":{"region":"us-east-1","source":"shop","endpoint":"` + srv.URL + `","timeout":"3s"}}`
	sinktest.RequireGuardRefusal(t, spec, config.AllowEndpoint)
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests signed with the gateway's identity", n)
	}
}
