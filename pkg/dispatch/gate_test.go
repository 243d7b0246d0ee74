package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

func breakerSink(consecutive int, rate float64, minReq int) config.Sink {
	on := true
	return config.Sink{Breaker: config.Breaker{Enabled: &on, ConsecutiveFailures: consecutive, FailureRate: rate,
		Window: config.Duration{D: time.Minute}, MinRequests: minReq, CoolDown: config.Duration{D: 10 * time.Second}}}
}

// The breaker's transitions, in a synctest bubble: an open breaker holds
// a delivery for exactly its cool-down and then lets it through as the
// half-open probe.
func TestBreakerTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []State
		g := newGate(breakerSink(3, 0.9, 100), 1, func(from, to State, _ string, _ time.Time) { changes = append(changes, to) })

		g.record(false, verdictFailing)
		g.record(false, verdictFailing)
		g.record(false, verdictHealthy) // resets the run
		g.record(false, verdictNeutral) // 410s say nothing about health
		g.record(false, verdictRateLimited)
		g.record(false, verdictFailing)
		g.record(false, verdictFailing)
		if g.State() != StateRunning {
			t.Fatalf("state %s after 2 failures in a row", g.State())
		}
		g.record(false, verdictFailing)
		opened := time.Now()
		if g.State() != StateOpen {
			t.Fatalf("state %s after 3 failures in a row, want open", g.State())
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		if _, err := g.wait(ctx, 1); err == nil {
			t.Fatal("wait passed an open breaker")
		}
		cancel()

		probe, err := g.wait(t.Context(), 1) // returns when the cool-down is over
		if err != nil || !probe {
			t.Fatalf("first wait after the cool-down: probe=%v err=%v", probe, err)
		}
		if held := time.Since(opened); held != 10*time.Second {
			t.Fatalf("the open breaker held a delivery %s, want the cool-down (10s)", held)
		}
		if g.State() != StateHalfOpen {
			t.Fatalf("state %s after the cool-down, want half_open", g.State())
		}
		ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
		if _, err := g.wait(ctx, 1); err == nil {
			t.Fatal("a second delivery passed while the probe was out")
		}
		cancel()
		g.record(true, verdictFailing)
		reopened := time.Now()
		if g.State() != StateOpen {
			t.Fatalf("state %s after a failed probe, want open", g.State())
		}
		probe, _ = g.wait(t.Context(), 1)
		if held := time.Since(reopened); held != 10*time.Second {
			t.Fatalf("the reopened breaker held a delivery %s, want the cool-down (10s)", held)
		}
		g.record(probe, verdictHealthy)
		if g.State() != StateRunning {
			t.Fatalf("state %s after a good probe, want running", g.State())
		}
		want := []State{StateOpen, StateOpen, StateRunning}
		if len(changes) != len(want) {
			t.Fatalf("changes %v, want %v", changes, want)
		}
		for i := range want {
			if changes[i] != want[i] {
				t.Errorf("changes %v, want %v", changes, want)
			}
		}
	})
}

func TestBreakerFailureRate(t *testing.T) {
	g := newGate(breakerSink(1000, 0.5, 10), 1, nil)
	for i := 0; i < 9; i++ {
		o := verdictHealthy
		if i%2 == 0 {
			o = verdictFailing
		}
		g.record(false, o)
	}
	if g.State() != StateRunning {
		t.Fatal("opened before min_requests")
	}
	g.record(false, verdictFailing) // 6 of 10 failed
	if g.State() != StateOpen {
		t.Fatalf("state %s at 60%% failures, want open", g.State())
	}
}

// In a synctest bubble: the paused gate holds the waiter (durably
// blocked once synctest.Wait returns) until resume releases it.
func TestPauseHoldsUntilResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate(config.Sink{}, 1, nil)
		g.setPaused(true, "test")
		done := make(chan error, 1)
		go func() { _, err := g.wait(context.Background(), 1); done <- err }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("wait passed a paused gate")
		default:
		}
		g.setPaused(false, "")
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("resume did not release the wait")
		}
	})
}

// The limiter's pace, in a synctest bubble: the clock moves only when
// the test moves it, so "within the same second" is exact.
func TestAdaptiveLimiterSlowsAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdaptiveLimiter(100, 1)
		a.slowDown()
		a.slowDown()
		if got := float64(a.lim.Limit()); got != 25 {
			t.Fatalf("after two 429s: %v/s, want 25", got)
		}
		for i := 0; i < 10; i++ {
			a.slowDown()
		}
		if got := float64(a.lim.Limit()); got != 5 {
			t.Fatalf("floor: %v/s, want 5 (1/20 of the setting)", got)
		}
		a.lastRaise = time.Now().Add(-2 * time.Second)
		a.recover()
		if got := float64(a.lim.Limit()); got <= 5 || got > 100 {
			t.Fatalf("after a second of successes: %v/s", got)
		}
		a.recover() // within the same second: no change
		before := float64(a.lim.Limit())
		a.recover()
		if float64(a.lim.Limit()) != before {
			t.Error("recovered twice within a second")
		}
		for i := 0; i < 50; i++ {
			a.lastRaise = time.Now().Add(-2 * time.Second)
			a.recover()
		}
		if got := float64(a.lim.Limit()); got != 100 {
			t.Errorf("recovered to %v/s, want the configured 100", got)
		}
	})
}

// With share saying three replicas deliver, each keeps to a third of the
// sink's rate and burst (never below a batch), a slow-down in progress
// stays in proportion, and back to one replica the full rate returns. In
// a synctest bubble: the limiter's tokens refill only as the test says.
func TestAdaptiveLimiterShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		n.Store(3)
		a := newAdaptiveLimiter(30, 30)
		a.minBurst = 4
		a.share = func() int { return int(n.Load()) }
		tests := []struct {
			name      string
			replicas  int64
			slowDown  bool
			wantLimit float64
			wantBurst int
		}{
			{"three replicas", 3, false, 10, 10},
			{"slowed down among three", 3, true, 5, 10},
			{"one left keeps the slow-down's proportion", 1, false, 15, 30},
			{"ten: burst no smaller than a batch", 10, false, 1.5, 4},
			{"a share of 0 counts as 1", 0, false, 15, 30},
		}
		for _, tt := range tests {
			n.Store(tt.replicas)
			if tt.slowDown {
				a.slowDown()
			}
			if err := a.wait(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			if got := float64(a.lim.Limit()); got != tt.wantLimit || a.lim.Burst() != tt.wantBurst {
				t.Errorf("%s: %v/s burst %d, want %v/s burst %d", tt.name, got, a.lim.Burst(), tt.wantLimit, tt.wantBurst)
			}
		}
	})
}
