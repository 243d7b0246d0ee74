package dispatch

import (
	"testing"
	"time"
)

func TestRollingCountsExpireWithTheWindow(t *testing.T) {
	var w rollingCounts
	window := time.Minute
	t0 := time.Unix(10_000, 0)
	for i := 0; i < 30; i++ { // one a second for 30 s, every third failed
		w.add(t0.Add(time.Duration(i)*time.Second), window, i%3 == 0)
	}
	cases := []struct {
		at      time.Duration
		n, fail int
	}{
		{29 * time.Second, 30, 10},
		{59 * time.Second, 30, 10},
		{75 * time.Second, 14, 4}, // results from 16 s on are still in the window
		{2 * time.Minute, 0, 0},
	}
	for _, c := range cases {
		n, f := w.counts(t0.Add(c.at), window)
		if n != c.n || f != c.fail {
			t.Errorf("at +%s: %d results, %d failed; want %d, %d", c.at, n, f, c.n, c.fail)
		}
	}
}

// The cost of recording an outcome does not grow with the traffic.
func BenchmarkGateRecord(b *testing.B) {
	g := newGate(breakerSink(1<<30, 0.99, 1<<30), 1, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.record(false, verdictHealthy)
	}
}
