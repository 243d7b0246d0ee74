package dispatch

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slowEffects is a gate's change callback that records the changes it
// applied, in order. The effects of a change to slowTo wait until release
// is closed, as JetStream answering slowly under load makes them wait.
type slowEffects struct {
	slowTo  State
	release chan struct{}

	mu      sync.Mutex
	applied []State
}

func newSlowEffects(slowTo State) *slowEffects {
	return &slowEffects{slowTo: slowTo, release: make(chan struct{})}
}

func (e *slowEffects) apply(_, to State, _ string, _ time.Time) {
	if to == e.slowTo {
		<-e.release
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applied = append(e.applied, to)
}

// then makes a change in a goroutine (it waits for its turn there) and
// lets the slow change's effects finish; it returns once both are applied.
func (e *slowEffects) then(change func()) {
	done := make(chan struct{})
	go func() { defer close(done); change() }()
	synctest.Wait()
	close(e.release)
	<-done
	synctest.Wait()
}

func (e *slowEffects) want(t *testing.T, states ...State) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Equal(e.applied, states) {
		t.Errorf("effects applied for %v, want %v (the order the gate made the changes)", e.applied, states)
	}
}

// The effects of the gate's changes (consumers paused or resumed in
// JetStream, then the state event and gauge) are applied in the order the
// gate made the changes, even when an earlier change's effects are slow
// and a later change's goroutine gets there first. In synctest bubbles, so
// a cool-down passes while a change's effects wait, and "slow" is exact.
func TestStateChangesTakeEffectInTheOrderMade(t *testing.T) {
	// The breaker opens, and pausing the consumers takes longer than the
	// cool-down; a probe closes the breaker meanwhile. "open" applied
	// last would leave the gauge and the last state event on open while
	// the sink delivers.
	t.Run("open, then closed by a probe", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newSlowEffects(StateOpen)
			g := newGate(breakerSink(1, 0.9, 100), 1, e.apply)
			go g.record(false, verdictFailing)
			synctest.Wait()
			probe, err := g.wait(t.Context(), 1) // after the cool-down
			if err != nil || !probe {
				t.Fatalf("wait after the cool-down: probe=%v err=%v", probe, err)
			}
			e.then(func() { g.record(probe, verdictHealthy) })
			e.want(t, StateOpen, StateRunning)
		})
	})
	// The cool-down's end is announced by a timer's goroutine; the probe
	// answers before that goroutine publishes. "half_open" applied last
	// would say the breaker still probes.
	t.Run("cool-down over, then closed by a probe", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newSlowEffects(StateHalfOpen)
			g := newGate(breakerSink(1, 0.9, 100), 1, e.apply)
			g.record(false, verdictFailing)
			until := g.breaker.until
			time.Sleep(time.Until(until))
			go g.coolDownOver(until)
			synctest.Wait()
			probe, err := g.wait(t.Context(), 1)
			if err != nil || !probe {
				t.Fatalf("wait after the cool-down: probe=%v err=%v", probe, err)
			}
			e.then(func() { g.record(probe, verdictHealthy) })
			e.want(t, StateOpen, StateHalfOpen, StateRunning)
		})
	})
	// Paused, then resumed while the pause still reaches JetStream: the
	// pause applied last would hold the consumers "until resumed" while
	// the sink says it runs.
	t.Run("paused, then resumed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newSlowEffects(StatePaused)
			g := newGate(breakerSink(1, 0.9, 100), 1, e.apply)
			go g.setPaused(true, "operator")
			synctest.Wait()
			e.then(func() { g.setPaused(false, "") })
			e.want(t, StatePaused, StateRunning)
		})
	})
	// A timer that fired late, for a cool-down since replaced (its probe
	// failed), announces nothing: the cool-down's end is announced once,
	// by its own timer.
	t.Run("a replaced cool-down", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newSlowEffects("")
			g := newGate(breakerSink(1, 0.9, 100), 1, e.apply)
			g.record(false, verdictFailing)
			first := g.breaker.until
			probe, _ := g.wait(t.Context(), 1)
			g.record(probe, verdictFailing)
			second := g.breaker.until
			time.Sleep(time.Until(second))
			g.coolDownOver(first)
			g.coolDownOver(second)
			e.want(t, StateOpen, StateOpen, StateHalfOpen)
		})
	})
}
