package pubsub_test

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// api.allow: [endpoint] without private_networks: an API sink's emulator
// endpoint on loopback is dialed through the SSRF guard, and refused.
func TestAPIEndpointDialsThroughGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	spec := `{"name":"ps","events":[">"],"pubsub":{"project":"p","topic":"t","endpoint":"` + ln.Addr().String() + `","timeout":"2s"}}`
	sinktest.RequireGuardRefusal(t, spec, config.AllowEndpoint)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback endpoint accepted %d connections", n)
	}
}
