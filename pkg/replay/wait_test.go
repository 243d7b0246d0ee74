package replay

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

var errNotStarted = errors.New("dispatcher not started")

// refusing is a dispatcher that refuses sources until its n-th attempt
// (never, when n is 0), as one a reload has not started yet does.
type refusing struct{ n, tries int }

func (d *refusing) AddSource(jetstream.Consumer, dispatch.Accept) (func(), error) {
	d.tries++
	if d.n > 0 && d.tries >= d.n {
		return func() {}, nil
	}
	return nil, errNotStarted
}

// Attaching to a dispatcher that never takes the source gives up as soon
// as its context ends, not after its own 5 s.
func TestAttachSourceGivesUpWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := attachSource(ctx, &refusing{}, nil, nil)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errNotStarted) {
			t.Errorf("err = %v, want the refusal and context.Canceled", err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Errorf("gave up after %v, want 100ms (when its context ended)", took)
		}
	})
}

// A dispatcher a reload has just started takes the source on a retry; one
// that never does is given up on after attachWait, with its refusal.
func TestAttachSourceRetriesUntilItsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		d := &refusing{n: 4}
		if _, err := attachSource(t.Context(), d, nil, nil); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 3*attachRetry {
			t.Errorf("attached after %v, want three retries (%v)", took, 3*attachRetry)
		}
		start = time.Now()
		if _, err := attachSource(t.Context(), &refusing{}, nil, nil); err != errNotStarted {
			t.Errorf("err = %v, want the dispatcher's refusal", err)
		}
		if took := time.Since(start); took != attachWait {
			t.Errorf("gave up after %v, want %v", took, attachWait)
		}
	})
}

// Canceling a replay of this replica answers as soon as it has ended, and
// no later than cancelWait when it does not end.
func TestCancelReplayWaitsForTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{})
		ending := &replay{ended: make(chan struct{}), st: gatewayapi.ReplayStatus{ID: "01", State: "running"}}
		ending.cancel = func() {
			time.AfterFunc(30*time.Millisecond, func() {
				ending.mu.Lock()
				ending.st.State = "canceled"
				ending.mu.Unlock()
				close(ending.ended)
			})
		}
		stuck := &replay{ended: make(chan struct{}), st: gatewayapi.ReplayStatus{ID: "02", State: "running"}, cancel: func() {}}
		m.replays["01"], m.replays["02"] = ending, stuck

		start := time.Now()
		st, err := m.CancelReplay("01")
		if err != nil || st.State != "canceled" {
			t.Fatalf("CancelReplay = %+v, %v; want canceled", st, err)
		}
		if took := time.Since(start); took != 30*time.Millisecond {
			t.Errorf("answered after %v, want 30ms (when the replay ended)", took)
		}
		start = time.Now()
		if st, _ := m.CancelReplay("02"); st.State != "running" {
			t.Errorf("a replay that did not end: %+v", st)
		}
		if took := time.Since(start); took != cancelWait {
			t.Errorf("answered after %v, want %v", took, cancelWait)
		}
	})
}
