package replay

import (
	"slices"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Finished replays are kept for their retention and at most maxFinished
// of them, the newest; running ones are never dropped.
func TestPruneDropsThePastAndTheOldestFinished(t *testing.T) {
	now := time.Now()
	m := New(Config{})
	m.SetRetention(time.Hour, 2)
	add := func(id string, finishedAgo time.Duration) {
		r := &replay{st: gatewayapi.ReplayStatus{ID: id, State: "running"}}
		if finishedAgo > 0 {
			f := now.Add(-finishedAgo)
			r.st.State, r.st.Finished = "done", &f
		}
		m.replays[id] = r
	}
	add("run", 0)
	add("old", 2*time.Hour)
	add("f3", 3*time.Minute)
	add("f2", 2*time.Minute)
	add("f1", time.Minute)
	dropped := m.pruneLocked(now)
	slices.Sort(dropped)
	if !slices.Equal(dropped, []string{"f3", "old"}) {
		t.Errorf("dropped %v, want f3 (beyond the newest 2) and old (past its retention)", dropped)
	}
	var kept []string
	for id := range m.replays {
		kept = append(kept, id)
	}
	slices.Sort(kept)
	if !slices.Equal(kept, []string{"f1", "f2", "run"}) {
		t.Errorf("kept %v", kept)
	}
}
