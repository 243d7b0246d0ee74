package replay

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// A finished replay is listed for exactly its retention: kept when it
// ended the retention ago, dropped when it ended a nanosecond earlier.
// The bubble's clock stands still, so the edge is exact.
func TestFinishedReplayIsKeptForExactlyItsRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{})
		m.SetRetention(100*time.Millisecond, 10)
		finished := func(id string, ago time.Duration) {
			f := time.Now().Add(-ago)
			m.replays[id] = &replay{ended: make(chan struct{}), st: gatewayapi.ReplayStatus{ID: id, State: "done", Finished: &f}}
		}
		finished("edge", 100*time.Millisecond)
		finished("past", 100*time.Millisecond+time.Nanosecond)
		list := m.Replays()
		if len(list) != 1 || list[0].ID != "edge" {
			t.Fatalf("listed %+v, want only the replay that ended exactly the retention ago", list)
		}
		if _, err := m.Replay("past"); !errors.Is(err, gatewayapi.ErrNotFound) {
			t.Errorf("the replay past its retention: %v, want not found", err)
		}
		if st, err := m.Replay("edge"); err != nil || st.State != "done" {
			t.Errorf("the replay at its retention: %+v %v", st, err)
		}
	})
}
