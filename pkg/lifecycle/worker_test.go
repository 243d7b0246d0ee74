package lifecycle

import (
	"context"
	"sync/atomic"
	"testing"
)

// Halt returns only once fn has returned, and ends fn's context.
func TestHaltJoins(t *testing.T) {
	var w Worker
	var ended atomic.Bool
	started := make(chan struct{})
	w.Go(context.Background(), func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		ended.Store(true)
	})
	<-started
	w.Halt()
	if !ended.Load() {
		t.Fatal("Halt returned before fn did")
	}
	w.Halt() // a second Halt is harmless
}

// The parent's end ends fn too; Halt then only waits.
func TestParentEndsFn(t *testing.T) {
	var w Worker
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.Go(ctx, func(ctx context.Context) { <-ctx.Done(); close(done) })
	cancel()
	<-done
	w.Halt()
}

// Halt before Go does nothing.
func TestHaltBeforeGo(t *testing.T) {
	var w Worker
	w.Halt()
}

type runner struct{ ran chan struct{} }

func (r runner) Run(ctx context.Context) { close(r.ran); <-ctx.Done() }

// A component's Stop returns once its Runner's Run has.
func TestComponentStopJoinsRun(t *testing.T) {
	r := runner{ran: make(chan struct{})}
	c := Go(r)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-r.ran
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}
