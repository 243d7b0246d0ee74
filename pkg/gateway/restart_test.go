package gateway_test

import (
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
