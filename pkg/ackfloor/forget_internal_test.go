package ackfloor

import (
	"maps"
	"slices"
	"testing"
)

// The Recorder's memories keep only the running sinks: a sink deleted
// through the API leaves them at the next round.
func TestForgetGoneKeepsOnlyRunningSinks(t *testing.T) {
	last := map[string]uint64{"kept": 5, "deleted": 7}
	counted := map[string]uint64{"kept": 1, "deleted": 2}
	forgetGone([]Sink{{Name: "kept"}, {Name: "new"}}, last, counted)
	for _, m := range []map[string]uint64{last, counted} {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"kept"}) {
			t.Errorf("after the round: %v, want only [kept]", got)
		}
	}
	if last["kept"] != 5 || counted["kept"] != 1 {
		t.Errorf("a running sink's memory changed: last %d, counted %d", last["kept"], counted["kept"])
	}
}
