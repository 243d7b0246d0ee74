package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
)

// An event held at the gate (pulled, then the sink paused) is handed back
// unattempted by every reload that replaces the sink's dispatcher, and
// JetStream counts each handback as a delivery. Only real attempts spend
// the retry budget: after three reloads the event still gets all three
// attempts of its schedule before it is dead-lettered.
func TestHeldAtTheGateAcrossReloadsKeepsItsRetryBudget(t *testing.T) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, _, _ string, _ int) { w.WriteHeader(http.StatusServiceUnavailable) })
	dir := t.TempDir()
	sinkFor := func(i int) string {
		return rc.SinkYAML("s", `[">"]`, 4, fmt.Sprintf("    description: reload %d\n    breaker: {enabled: false}\n    retry: {schedule: [200ms, 200ms], jitter: 0}\n", i))
	}
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinkFor(0)})
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n\nsinks:", dir)
	if code := adminDo(t, g, "POST", "/v1/sinks/s/pause", nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	ctx := context.Background()
	events, err := g.Bus().JS.Consumer(ctx, "EVENTS", "s")
	if err != nil {
		t.Fatal(err)
	}
	const reloads = 3
	for i := 1; i <= reloads; i++ {
		// The dispatcher's gate stays shut while JetStream hands the
		// consumer its message: the event waits at the gate, pulled and
		// unattempted, as one pulled just before a pause does.
		testutil.WaitFor(t, 5*time.Second, "the consumer paused", func() bool {
			info, err := events.Info(ctx)
			return err == nil && info.Paused
		})
		if _, err := g.Bus().JS.PauseConsumer(ctx, "EVENTS", "s", time.Now().Add(20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			gatewaytest.Publish(t, g, "order.created", "held", []byte(`{}`), nil)
		}
		testutil.WaitFor(t, 10*time.Second, "the event pulled and held at the gate", func() bool {
			info, err := events.Info(ctx)
			return err == nil && info.NumAckPending == 1 && info.NumPending == 0 && int(info.Delivered.Consumer) >= i
		})
		cfg, err := config.Parse("r.yaml", []byte(base+sinkFor(i)), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		if plan, err := g.Reload(ctx, cfg, false); err != nil || len(plan.Changed) != 1 {
			t.Fatalf("reload %d: %+v, %v", i, plan, err)
		}
	}
	if n := hitsOf(rc, "held"); n != 0 {
		t.Fatalf("%d attempts while held at the gate", n)
	}
	if code := adminDo(t, g, "POST", "/v1/sinks/s/resume", nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	var recs []deadletter.Record
	testutil.WaitFor(t, 15*time.Second, "the event dead-lettered", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if n := hitsOf(rc, "held"); n != 3 || recs[0].Attempts != 3 {
		t.Errorf("%d real attempts (the dead letter says %d: %s) after %d reloads at the gate, want the schedule's 3",
			n, recs[0].Attempts, recs[0].Reason, reloads)
	}
}

func hitsOf(rc *testutil.Receiver, id string) int {
	n := 0
	for _, h := range rc.Hits("s") {
		if h.ID == id {
			n++
		}
	}
	return n
}
