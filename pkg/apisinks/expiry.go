package apisinks

import (
	"context"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
)

// Pending is what Expiry needs of one API sink: its revision and when
// its rotated-out secrets stop signing.
type Pending struct {
	Rev      uint64
	Expiring map[string]time.Time
}

// Expiry ends the grace of rotated-out secrets on time: shown the API
// sinks (Schedule), it calls Expire once the earliest rotated-out secret
// expires, at once for one that expired while no replica ran. A sink's
// expired secrets are tried once per revision (Due), so a record that
// cannot be rewritten is not retried in a loop. It runs between Start
// and Stop.
type Expiry struct {
	// Expire drops the expired secrets from the running sinks and the
	// stored records; it calls Due and then Schedule.
	Expire func(ctx context.Context)

	mu    sync.Mutex
	next  time.Time         // when Expire is due; zero: never
	tried map[string]uint64 // by sink, the revision whose expired secrets Due last handed out
	wake  chan struct{}     // Schedule changed next
	w     lifecycle.Worker
}

// expirySlack is how long after a secret's expiry Expire runs, so that
// the secret has expired by then on this clock.
const expirySlack = 10 * time.Millisecond

// Start runs Expire when it is due, until ctx ends or Stop.
func (x *Expiry) Start(ctx context.Context) error {
	x.mu.Lock()
	if x.wake == nil {
		x.wake = make(chan struct{}, 1)
	}
	x.mu.Unlock()
	return x.w.Start(ctx, x.run)
}

// Stop ends the runs Start began and waits for one in progress.
func (x *Expiry) Stop() error { return x.w.Stop() }

func (x *Expiry) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		x.mu.Lock()
		next := x.next
		x.mu.Unlock()
		timer.Stop()
		var fire <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next) + expirySlack)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		case <-fire:
			x.mu.Lock()
			if x.next.Equal(next) {
				x.next = time.Time{} // Expire schedules what follows
			}
			x.mu.Unlock()
			x.Expire(ctx)
		}
	}
}

// Schedule sets when Expire is next due, from the API sinks as they are
// now: the earliest expiry of a rotated-out secret, or at once for one
// already expired whose revision Due has not handed out.
func (x *Expiry) Schedule(sinks map[string]Pending) {
	now := time.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	var first time.Time
	for name, p := range sinks {
		for _, at := range p.Expiring {
			if !at.After(now) {
				if x.tried[name] == p.Rev {
					continue
				}
				at = now
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
		}
	}
	x.next = first
	if x.wake == nil {
		x.wake = make(chan struct{}, 1)
	}
	select {
	case x.wake <- struct{}{}:
	default: // a wake-up is pending already: it reads next
	}
}

// Due hands out the API sinks that have an expired secret to remove from
// their record, once per revision; sinks gone are forgotten.
func (x *Expiry) Due(sinks map[string]Pending) []string {
	now := time.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	for name := range x.tried {
		if _, ok := sinks[name]; !ok {
			delete(x.tried, name) // deleted sinks leave nothing behind
		}
	}
	if x.tried == nil {
		x.tried = map[string]uint64{}
	}
	var due []string
	for name, p := range sinks {
		for _, at := range p.Expiring {
			if !at.After(now) && x.tried[name] != p.Rev {
				x.tried[name] = p.Rev
				due = append(due, name)
				break
			}
		}
	}
	return due
}
