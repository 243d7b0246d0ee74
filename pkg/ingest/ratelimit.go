package ingest

import (
	"math"
	"sync/atomic"
	"time"
)

// limiter is a token bucket kept as one atomic word (GCRA: the
// theoretical arrival time of the next event), so requests of one token
// never queue on a mutex. The bucket holds one second of the rate (at
// least one event).
type limiter struct {
	interval int64 // ns per event
	burst    int64 // ns of credit a full bucket holds
	tat      atomic.Int64
	start    time.Time // monotonic base for tat
}

func newLimiter(perSec float64) *limiter {
	interval := int64(math.Max(1, float64(time.Second)/perSec))
	burst := int64(math.Max(float64(time.Second), float64(interval)))
	return &limiter{interval: interval, burst: burst, start: time.Now()}
}

// allow takes n events from the bucket, or says how long to wait. A
// request larger than the bucket needs the bucket full, and empties it.
func (l *limiter) allow(n int) (ok bool, wait time.Duration) {
	now := int64(time.Since(l.start))
	cost := int64(n) * l.interval
	if cost > l.burst {
		cost = l.burst
	}
	for range 100 { // bounded: each failed CAS means another request won
		old := l.tat.Load()
		tat := max(old, now)
		next := tat + cost
		if over := next - now - l.burst; over > 0 {
			return false, time.Duration(over)
		}
		if l.tat.CompareAndSwap(old, next) {
			return true, 0
		}
	}
	return false, time.Duration(l.interval)
}

// ready reports whether the bucket holds at least one event, taking
// nothing, or how long until it does: checked before a request's body is
// read, which allow then charges by its events.
func (l *limiter) ready() (ok bool, wait time.Duration) {
	now := int64(time.Since(l.start))
	if over := max(l.tat.Load(), now) + l.interval - now - l.burst; over > 0 {
		return false, time.Duration(over)
	}
	return true, 0
}
