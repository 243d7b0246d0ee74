package apisinks_test

import (
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Every sink has an incarnation: an API sink keeps its own through every
// revision, a record from before incarnations gets a stable derived one,
// a file sink's is stable and never an API sink's, and a sink of the same
// name but another incarnation is a change that a reload applies.
func TestSinkIncarnations(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	drawn := apisinks.Record{CreatedAt: created, IncarnationID: apisinks.NewIncarnation()}
	if got := drawn.Incarnation("s"); got != drawn.IncarnationID {
		t.Errorf("stored incarnation %q read as %q", drawn.IncarnationID, got)
	}
	if a, b := apisinks.NewIncarnation(), apisinks.NewIncarnation(); a == b {
		t.Errorf("two creates drew the same incarnation %q", a)
	}
	legacy := apisinks.Record{CreatedAt: created}
	if legacy.Incarnation("s") != (apisinks.Record{CreatedAt: created, Op: "update"}).Incarnation("s") {
		t.Error("a record without an incarnation is not read the same at every revision")
	}
	if legacy.Incarnation("s") == (apisinks.Record{CreatedAt: created.Add(time.Second)}).Incarnation("s") {
		t.Error("two creates of a name share a derived incarnation")
	}
	if apisinks.FileIncarnation("s") != apisinks.FileIncarnation("s") || apisinks.FileIncarnation("s") == apisinks.FileIncarnation("t") {
		t.Error("a file sink's incarnation is not its name's alone")
	}
	if apisinks.FileIncarnation("s") == legacy.Incarnation("s") || apisinks.FileIncarnation("s") == drawn.Incarnation("s") {
		t.Error("a file sink shares an API sink's incarnation")
	}
	old := &config.Config{Sinks: []config.Sink{{Name: "s", Incarnation: "api-1"}}}
	next := &config.Config{Sinks: []config.Sink{{Name: "s", Incarnation: "api-2"}}}
	if plan := config.Diff(old, next); len(plan.Changed["s"]) == 0 {
		t.Errorf("a re-created sink of the same definition is no change: %+v", plan)
	}
	eff := apisinks.Effective(&config.Config{Sinks: []config.Sink{{Name: "f"}}}, map[string]*apisinks.Sink{
		"a": {Config: config.Sink{Name: "a", Incarnation: drawn.IncarnationID}},
	})
	for _, s := range eff.Sinks {
		if s.Incarnation == "" {
			t.Errorf("sink %s runs without an incarnation", s.Name)
		}
	}
}
