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
