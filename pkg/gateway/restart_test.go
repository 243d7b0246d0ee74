package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// A delivery the shutdown interrupts is handed back to be sent again at
// once, and the hand-back outlives a restart of the embedded server (which
// stops with the gateway): the next start sends the event at once, not
// after its ack wait. A plain Nak is only a place in the server's
// in-memory redelivery queue, lost with the server; the event then waited
// for its ack wait to run out since its last in-progress.
func TestInterruptedDeliveriesAreSentAtOnceAfterARestart(t *testing.T) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("", 5*time.Second) // outlives the 2s shutdown grace, not the 10s timeout
	dir := t.TempDir()
	sinks := strings.Replace(rc.SinkYAML("s", `[">"]`, 4, "    ack_wait: 60s\n    breaker: {enabled: false}\n"),
		"timeout: 2s", "timeout: 10s", 1)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	gatewaytest.Publish(t, g, "order.completed", "u1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the attempt in flight", func() bool { return len(rc.Hits("s")) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rc.SetDelay("", 0)
	gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	// Well within the 60s ack wait: only the hand-back brings it this soon.
	testutil.WaitFor(t, 20*time.Second, "the interrupted event sent again after the restart", func() bool { return len(rc.Hits("s")) == 2 })
}

// An event held at the gate (pulled, the sink paused) when the gateway
// stops is handed back unattempted, and that hand-back too outlives the
// restart of the embedded server: resumed after the restart, the sink
// sends it at once, not after its ack wait.
func TestHeldAtTheGateAtAStopIsSentAtOnceAfterARestart(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	sinks := rc.SinkYAML("s", `[">"]`, 4, "    ack_wait: 60s\n    breaker: {enabled: false}\n")
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	if code := adminDo(t, g, "POST", "/v1/sinks/s/pause", nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	ctx := context.Background()
	events, err := g.Bus().JS.Consumer(ctx, "EVENTS", "s")
	if err != nil {
		t.Fatal(err)
	}
	// The dispatcher's gate stays shut while JetStream hands the consumer
	// its message: the event waits at the gate, pulled and unattempted.
	testutil.WaitFor(t, 5*time.Second, "the consumer paused", func() bool {
		info, err := events.Info(ctx)
		return err == nil && info.Paused
	})
	if _, err := g.Bus().JS.PauseConsumer(ctx, "EVENTS", "s", time.Now().Add(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Publish(t, g, "order.created", "held", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the event pulled and held at the gate", func() bool {
		info, err := events.Info(ctx)
		return err == nil && info.NumAckPending == 1 && info.NumPending == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g, _ = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	if code := adminDo(t, g, "POST", "/v1/sinks/s/resume", nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	// Well within the 60s ack wait: only the hand-back brings it this soon.
	testutil.WaitFor(t, 20*time.Second, "the held event sent after the restart", func() bool { return hitsOf(rc, "held") == 1 })
}
