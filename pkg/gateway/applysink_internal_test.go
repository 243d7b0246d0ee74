package gateway

import (
	"context"
	"slices"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// runningNames are the names of the running sinks, of the running
// config's sinks and of byName; they must agree, in the same order.
func runningNames(t *testing.T, g *Gateway) []string {
	t.Helper()
	g.mu.RLock()
	defer g.mu.RUnlock()
	var sinks, cfg []string
	for i, rs := range g.sinks {
		sinks = append(sinks, rs.cfg.Name)
		if g.byName[rs.cfg.Name] != rs {
			t.Fatalf("byName[%s] is not the running sink", rs.cfg.Name)
		}
		if i < len(g.cfg.Sinks) && g.cfg.Sinks[i].Incarnation != rs.cfg.Incarnation {
			t.Fatalf("config sink %d is %s's incarnation %s, the running one %s", i, rs.cfg.Name, g.cfg.Sinks[i].Incarnation, rs.cfg.Incarnation)
		}
	}
	for _, s := range g.cfg.Sinks {
		cfg = append(cfg, s.Name)
	}
	if !slices.Equal(sinks, cfg) || len(g.byName) != len(sinks) {
		t.Fatalf("running sinks %v, config's %v, byName %d", sinks, cfg, len(g.byName))
	}
	return sinks
}

// applySink changes one sink as applyLocked changes a whole config, and
// touches no other: the running sinks, byName and the running config
// stay in step; a changed sink hands over to its new dispatcher; another
// incarnation under the name stops the old one (and its series) first,
// and when it cannot start the old one runs again; a sink that cannot
// start leaves what runs as it was; a removed one stops and its series go.
func TestApplySinkChangesThatSinkAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	g, err := New(ctx, internalConfig(t, dir, "1s", "a", "b"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, g)
	a, _ := g.sink("a")
	def := func(name, incarnation string) *config.Sink {
		s := internalConfig(t, dir, "1s", name).Sinks[0]
		s.Incarnation = incarnation
		return &s
	}
	apply := func(name string, next *config.Sink) error {
		t.Helper()
		return g.applySink(ctx, name, next)
	}

	if err := apply("c", def("c", "api-c1")); err != nil {
		t.Fatal(err)
	}
	if got := runningNames(t, g); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after adding c: %v", got)
	}
	c1, _ := g.sink("c")

	// The same definition again changes nothing.
	if err := apply("c", def("c", "api-c1")); err != nil {
		t.Fatal(err)
	}
	if c, _ := g.sink("c"); c != c1 {
		t.Fatal("an unchanged definition replaced the running sink")
	}

	changed := def("c", "api-c1")
	changed.Events = []string{"order.*"}
	if err := apply("c", changed); err != nil {
		t.Fatal(err)
	}
	c2, _ := g.sink("c")
	if c2 == c1 || !slices.Equal(c2.cfg.Events, []string{"order.*"}) {
		t.Fatalf("c runs %+v after its change", c2.cfg.Events)
	}
	c1.stopped() // the old dispatcher has stopped
	if got := runningNames(t, g); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after changing c: %v", got)
	}

	// Another incarnation whose consumers are still the first one's,
	// which the bucket does not hold: it cannot start, the first runs.
	g.metrics.Deliveries.WithLabelValues("c", telemetry.OutcomeDelivered).Add(3)
	if err := apply("c", def("c", "api-c2")); err == nil {
		t.Fatal("another incarnation started over the first one's consumers")
	}
	if c, _ := g.sink("c"); c == nil || c.cfg.Incarnation != "api-c1" {
		t.Fatalf("after a failed rebirth c runs %+v", c)
	}
	if got := runningNames(t, g); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after a failed rebirth: %v", got)
	}
	// Its consumers gone (the delete cleaned the name), it starts, and
	// with none of the first one's counts.
	c3, _ := g.sink("c")
	g.metrics.Deliveries.WithLabelValues("c", telemetry.OutcomeDelivered).Add(3)
	g.consumers.Delete(ctx, "test", "c")
	if err := apply("c", def("c", "api-c2")); err != nil {
		t.Fatal(err)
	}
	c3.stopped()
	if c, _ := g.sink("c"); c == nil || c.cfg.Incarnation != "api-c2" {
		t.Fatalf("c runs %+v, want the second incarnation", c)
	}
	if n := countedSeries(t, g.metrics, "c"); n != 0 {
		t.Fatalf("the second incarnation starts with %d series of the first's counts", n)
	}

	// A file sink whose name's consumer is an API sink's cannot start:
	// nothing else changes.
	if err := apply("d", def("d", "api-d1")); err != nil {
		t.Fatal(err)
	}
	if err := apply("d", nil); err != nil { // stops; its consumers are kept
		t.Fatal(err)
	}
	if err := apply("d", def("d", apisinks.FileIncarnation("d"))); err == nil {
		t.Fatal("a file sink started over an API sink's consumer")
	}
	if got := runningNames(t, g); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after a failed start: %v", got)
	}

	b, _ := g.sink("b")
	g.metrics.Deliveries.WithLabelValues("b", telemetry.OutcomeDelivered).Inc()
	if err := apply("b", nil); err != nil {
		t.Fatal(err)
	}
	b.stopped()
	if got := runningNames(t, g); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("after removing b: %v", got)
	}
	if n := countedSeries(t, g.metrics, "b"); n != 0 {
		t.Fatalf("removed b keeps %d series", n)
	}
	if err := apply("nothing", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.sink("a"); got != a {
		t.Fatal("a was replaced by changes of other sinks")
	}
	if rc := g.RunningConfig(); len(rc.Sinks) != 2 || rc.Sinks[1].Incarnation != "api-c2" {
		t.Fatalf("running config: %+v", rc.Sinks)
	}
}
