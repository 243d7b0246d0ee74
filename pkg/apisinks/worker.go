package apisinks

import (
	"context"
	"sync"
)

// worker runs one goroutine between start and stop: the Start/Stop half
// of the package's components (Expiry, Watcher).
type worker struct {
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// start runs fn in a goroutine until ctx ends or stop.
func (w *worker) start(ctx context.Context, fn func(ctx context.Context)) {
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	w.mu.Lock()
	w.stop, w.done = stop, done
	w.mu.Unlock()
	go func() {
		defer close(done)
		fn(ctx)
	}()
}

// halt ends what start began and waits for fn to return.
func (w *worker) halt() {
	w.mu.Lock()
	stop, done := w.stop, w.done
	w.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
}
