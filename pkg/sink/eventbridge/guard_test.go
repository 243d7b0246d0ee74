package eventbridge_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// api.allow: [endpoint] without private_networks lets an API sink choose
// its endpoint, not reach loopback with the gateway's signed requests: the
// client dials through the SSRF guard.
func TestAPIEndpointDialsThroughGuard(t *testing.T) {
	srvURL, hits := sinktest.AWSLoopback(t)
	spec := `{"name":"eb","events":[">"],"eventbridge":{"region":"us-east-1","source":"shop","endpoint":"` + srvURL + `","timeout":"3s"}}`
	sinktest.RequireGuardRefusal(t, spec, config.AllowEndpoint)
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests signed with the gateway's identity", n)
	}
}
