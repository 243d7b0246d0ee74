package nats_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// An API nats sink with a url of its own connects from the gateway's
// network position: a loopback url once connected without
// private_networks. A literal private address is refused when the sink is
// judged; a name is judged when it is dialed (here localhost, which
// resolves to loopback), and so is a literal one whose record predates
// the rule.
func TestAPINATSURLIsGovernedByPrivateNetworks(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	_, port, _ := net.SplitHostPort(js.Server.Addr().String())
	cfg := config.Defaults()
	ctx := context.Background()
	for _, tt := range []struct {
		url         string
		refusedHere bool // by APIRestrictions, before any dial
	}{
		{"nats://127.0.0.1:" + port, true},
		{"nats://127.0.0.2:" + port, true},
		{"tls://10.1.2.3:4222", true},
		{"nats://nats.example.com:4222,nats://[::1]:" + port, true},
		{"nats://localhost:" + port, false},
	} {
		spec := `{"name":"b","events":[">"],"nats":{"url":"` + tt.url + `","subject":"bridge.>","timeout":"2s"}}`
		s, err := config.Loader{}.ParseSink([]byte(spec), cfg)
		if err != nil {
			t.Fatalf("%s: ParseSink: %v", tt.url, err)
		}
		fe := cfg.API.APIRestrictions(s)
		refused := len(fe) > 0 && fe[0].Field == "nats.url" && strings.Contains(fe[0].Message, "api.allow: ["+config.AllowPrivateNetworks+"]")
		if refused != tt.refusedHere {
			t.Errorf("%s: APIRestrictions = %v, want refused=%v", tt.url, fe, tt.refusedHere)
		}
		if strings.Contains(tt.url, "10.1.2.3") || strings.Contains(tt.url, "example.com") {
			continue // nothing listens there: only the judgement is tested
		}
		// A record stored before the rule, or a name: the dial is guarded,
		// and every send fails permanently with the guard's reason.
		d, err := sink.Open(ctx, s, sink.Env{})
		if err == nil {
			err = d.Send(ctx, []*event.Event{{ID: "e1", Type: "order.created", Time: time.Now(), Data: []byte(`{}`)}})
			if c := sink.Classify(err); c.Class != sink.Permanent {
				t.Errorf("%s: Send = %v (%v), want a permanent refusal", tt.url, err, c.Class)
			}
			_ = d.Close(ctx)
		}
		var blocked *netguard.BlockedError
		if !errors.As(err, &blocked) {
			t.Errorf("%s: Open or Send = %v, want the SSRF guard's refusal", tt.url, err)
		}
	}
	if n := js.Server.NumClients(); n != 1 { // the test's own connection
		t.Errorf("the loopback server has %d clients, want only the test's", n)
	}

	// Allowed, the same sink connects.
	cfg.API.Allow = []string{config.AllowPrivateNetworks}
	s, err := config.Loader{}.ParseSink([]byte(`{"name":"b","events":[">"],"nats":{"url":"nats://localhost:`+port+`","subject":"bridge.>"}}`), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fe := cfg.API.APIRestrictions(s); len(fe) > 0 {
		t.Fatalf("allowed private_networks: %v", fe)
	}
	d, err := sink.Open(ctx, s, sink.Env{})
	if err != nil {
		t.Fatalf("allowed private_networks: Open = %v", err)
	}
	_ = d.Close(ctx)
}
