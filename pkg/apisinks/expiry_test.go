package apisinks

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Expire runs when the earliest rotated-out secret expires, at once for
// one already expired, never for a revision already handed out, and not
// after Stop.
func TestExpiryFiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fired atomic.Int32
		var x *Expiry
		sinks := map[string]Pending{}
		x = &Expiry{Expire: func(context.Context) {
			fired.Add(1)
			x.Due(sinks)
		}}
		if err := x.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		sinks["a"] = Pending{Rev: 1, Expiring: map[string]time.Time{"fp": start.Add(time.Hour)}}
		x.Schedule(sinks)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := fired.Load(); n != 0 {
			t.Fatalf("fired %d times before the expiry", n)
		}
		time.Sleep(expirySlack)
		synctest.Wait()
		if n := fired.Load(); n != 1 {
			t.Fatalf("fired %d times at the expiry, want 1", n)
		}
		// Its revision was handed out: showing it again does not fire.
		x.Schedule(sinks)
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		if n := fired.Load(); n != 1 {
			t.Fatalf("fired %d times for a revision already tried", n)
		}
		// A new revision with the secret still expired fires at once.
		sinks["a"] = Pending{Rev: 2, Expiring: sinks["a"].Expiring}
		x.Schedule(sinks)
		time.Sleep(expirySlack)
		synctest.Wait()
		if n := fired.Load(); n != 2 {
			t.Fatalf("fired %d times, want 2 after a new revision", n)
		}
		if err := x.Stop(); err != nil {
			t.Fatal(err)
		}
		sinks["b"] = Pending{Rev: 1, Expiring: map[string]time.Time{"fp": time.Now().Add(time.Minute)}}
		x.Schedule(sinks)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := fired.Load(); n != 2 {
			t.Fatalf("fired after Stop: %d", n)
		}
	})
}

// Due hands each sink's expired revision out once and forgets sinks
// that are gone.
func TestExpiryDue(t *testing.T) {
	now := time.Now()
	x := &Expiry{}
	sinks := map[string]Pending{
		"a": {Rev: 3, Expiring: map[string]time.Time{"fp": now.Add(-time.Second)}},
		"b": {Rev: 1, Expiring: map[string]time.Time{"fp": now.Add(time.Hour)}},
	}
	if due := x.Due(sinks); !slices.Equal(due, []string{"a"}) {
		t.Fatalf("due %v, want [a]", due)
	}
	if due := x.Due(sinks); len(due) != 0 {
		t.Fatalf("due again %v", due)
	}
	x.Due(map[string]Pending{})
	if due := x.Due(sinks); !slices.Equal(due, []string{"a"}) {
		t.Fatalf("a sink gone and back at the same revision: due %v, want [a]", due)
	}
}
