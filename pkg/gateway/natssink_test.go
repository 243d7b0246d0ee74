package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// A nats sink with no url publishes on the gateway's own connection into
// another stream of the same server; until that stream exists, the
// deliveries are retried, not lost.
func TestNATSSinkBridgesIntoAnotherStream(t *testing.T) {
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: `
  - name: bridge
    events: ["order.>"]
    retry: {schedule: [200ms, 200ms, 200ms, 200ms, 200ms], jitter: 0}
    nats: {subject: "bridge.>", stream: BRIDGE}
`})
	gatewaytest.Publish(t, g, "order.created", "evt_bridge_1", []byte(`{"n":1}`), nil)
	testutil.WaitFor(t, 10*time.Second, "a delivery retried: no stream yet", func() bool {
		return promtest.ToFloat64(g.Metrics().Deliveries.WithLabelValues("bridge", telemetry.OutcomeRetried)) >= 1
	})
	ctx := context.Background()
	s, err := g.Bus().JS.CreateStream(ctx, jetstream.StreamConfig{Name: "BRIDGE", Subjects: []string{"bridge.>"}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the event in BRIDGE", func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "bridge.order.created" || m.Header.Get("Nats-Msg-Id") != "evt_bridge_1" || string(m.Data) != `{"n":1}` {
		t.Errorf("stored %s %v %s", m.Subject, m.Header, m.Data)
	}
}
