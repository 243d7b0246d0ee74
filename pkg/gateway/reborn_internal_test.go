package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// countedSeries is how many series labelled sink=name counted something.
func countedSeries(t *testing.T, m *telemetry.Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			zero := s.GetCounter().GetValue() == 0 && s.GetGauge().GetValue() == 0 && s.GetHistogram().GetSampleCount() == 0
			for _, l := range s.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() == name && !zero {
					n++
				}
			}
		}
	}
	return n
}

// A replica that missed a sink's delete sees its re-creation as a change
// of the running sink: another incarnation under the same name. The new
// sink starts with no counts of the old one's, and its own counts are
// in the registry (not in series a later delete took out of it).
func TestRebornSinkStartsWithItsOwnSeries(t *testing.T) {
	dir := t.TempDir()
	g, err := New(context.Background(), internalConfig(t, dir, "1s", "a"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, g)

	// The first incarnation's counts.
	g.metrics.Deliveries.WithLabelValues("a", telemetry.OutcomeDelivered).Add(7)
	g.metrics.DeadLetters.WithLabelValues("a", "gone").Inc()

	next := internalConfig(t, dir, "1s", "a")
	next.Sinks[0].Incarnation = "api-second"
	// The replica that deleted and re-created the sink made its consumers
	// the second incarnation's (a consumer belongs to one incarnation).
	for _, c := range []struct{ stream, name string }{{g.cfg.Stream.Name, "a"}, {bus.RedriveStream, subject.RedriveConsumer("a")}} {
		cons, err := g.bus.JS.Consumer(context.Background(), c.stream, c.name)
		if err != nil {
			t.Fatal(err)
		}
		cc := cons.CachedInfo().Config
		cc.Metadata = map[string]string{bus.MetaIncarnation: "api-second"}
		if _, err := g.bus.JS.UpdateConsumer(context.Background(), c.stream, cc); err != nil {
			t.Fatal(err)
		}
	}
	g.reloadMu.Lock()
	plan, err := g.applyLocked(context.Background(), next, false)
	g.reloadMu.Unlock()
	if err != nil || len(plan.Changed["a"]) == 0 {
		t.Fatalf("apply: %+v %v", plan, err)
	}
	if rs, _ := g.sink("a"); rs == nil || rs.cfg.Incarnation != "api-second" {
		t.Fatal("the second incarnation does not run")
	}
	if n := countedSeries(t, g.metrics, "a"); n != 0 {
		t.Fatalf("the second incarnation starts with %d series of the first's counts", n)
	}
	// Its own first attempt (to a closed port: retried) is counted.
	m := nats.NewMsg("events.order.created")
	m.Header.Set(event.HeaderMsgID, "o-1")
	m.Data = []byte(`{}`)
	if _, err := g.bus.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the second incarnation's attempt counted", func() bool {
		return countedSeries(t, g.metrics, "a") > 0
	})
}
