package dispatch

import "time"

// windowBuckets is how finely the breaker's window is cut: results expire
// a bucket at a time, so the window is exact to 1/windowBuckets of itself.
const windowBuckets = 60

// rollingCounts counts results and failures over a sliding window in
// fixed time buckets: adding a result is O(1) and reading the counts is
// O(windowBuckets), whatever the traffic. (A list of every result, scanned
// on each outcome, cost most of the CPU at thousands of events a second.)
type rollingCounts struct {
	buckets [windowBuckets]countBucket
}

type countBucket struct {
	epoch     int64 // which bucket-length slice of time this bucket counts
	n, failed int
}

func bucketSpan(window time.Duration) int64 {
	return max(int64(window)/windowBuckets, 1)
}

func (w *rollingCounts) add(now time.Time, window time.Duration, failed bool) {
	e := now.UnixNano() / bucketSpan(window)
	b := &w.buckets[e%windowBuckets]
	if b.epoch != e {
		*b = countBucket{epoch: e}
	}
	b.n++
	if failed {
		b.failed++
	}
}

// counts are the results and failures within the window ending now.
func (w *rollingCounts) counts(now time.Time, window time.Duration) (n, failed int) {
	e := now.UnixNano() / bucketSpan(window)
	for _, b := range w.buckets {
		if b.n > 0 && e-b.epoch < windowBuckets {
			n += b.n
			failed += b.failed
		}
	}
	return n, failed
}

func (w *rollingCounts) reset() { w.buckets = [windowBuckets]countBucket{} }
