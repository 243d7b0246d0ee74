package pubsub_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
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
	cfg := config.Defaults()
	cfg.API.Allow = []string{config.AllowEndpoint}
	spec := `{"name":"ps","events":[">"],"pubsub":{"project":"p","topic":"t","endpoint":"` + ln.Addr().String() + `","timeout":"2s"}}`
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
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback endpoint accepted %d connections", n)
	}
}
