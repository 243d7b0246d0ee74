package dispatch

import (
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A huge schedule entry spread by jitter, or a huge Retry-After, must not
// overflow into a negative delay: that would be an immediate redelivery.
func TestRetryDelaysNeverOverflow(t *testing.T) {
	huge := time.Duration(1<<63 - 1)
	for _, jitter := range []float64{0, 0.2, 1} {
		j := jitter
		d := &Dispatcher{opts: Options{Sink: config.Sink{Retry: config.Retry{
			Schedule: []config.Duration{{D: huge}}, Jitter: &j}}}}
		for i := 0; i < 100; i++ {
			if got := d.backoff(1); got < 0 || got > maxDelay {
				t.Fatalf("jitter %v: backoff = %s", j, got)
			}
		}
	}
	for _, in := range []time.Duration{-time.Second, huge, 0, time.Minute} {
		if got := clampDelay(in); got < 0 || got > maxDelay {
			t.Errorf("clampDelay(%s) = %s", in, got)
		}
	}
}

// Resuming a sink while its breaker cools down keeps the consumers paused
// until the cool-down ends: the change carries the breaker's end time.
func TestResumeDuringCoolDownKeepsTheBreakerOpen(t *testing.T) {
	now := time.Unix(1000, 0)
	type change struct {
		to    State
		until time.Time
	}
	var changes []change
	g := newGate(breakerSink(1, 0.9, 100), 1, func(_, to State, _ string, until time.Time) {
		changes = append(changes, change{to, until})
	})
	g.now = func() time.Time { return now }
	g.record(false, verdictFailing) // opens for 10 s
	g.setPaused(true, "operator")
	g.setPaused(false, "")
	last := changes[len(changes)-1]
	if last.to != StateOpen || !last.until.Equal(now.Add(10*time.Second)) {
		t.Fatalf("resume during cool-down: %+v, want open until %s", last, now.Add(10*time.Second))
	}
}
