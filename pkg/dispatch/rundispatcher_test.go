package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/dispatch"
)

// runDispatcher runs d, whose stop may take grace, until stop is called or
// the test ends. stop cancels it and fails t at once unless Run returns
// within ten seconds; only its first call does anything.
func runDispatcher(t *testing.T, d *dispatch.Dispatcher, grace time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx, grace) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("dispatcher did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
