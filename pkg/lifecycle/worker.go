// Package lifecycle is what a background component of the gateway is made
// of: a Worker runs one goroutine between its component's Start and Stop,
// so that Stop returns only once that goroutine has; Go makes a component
// of anything with a Run that lasts until its context ends.
package lifecycle

import (
	"context"
	"sync"
)

// Worker runs one function in a goroutine until its context ends or Halt.
// The zero Worker is ready; Halt before Go does nothing.
type Worker struct {
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// Go runs fn in a goroutine on a context that ends with ctx or at Halt.
func (w *Worker) Go(ctx context.Context, fn func(ctx context.Context)) {
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

// Halt ends fn's context and waits for fn to return.
func (w *Worker) Halt() {
	w.mu.Lock()
	stop, done := w.stop, w.done
	w.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	<-done
}

// Start runs fn as Go does, for a component whose Start cannot fail: its
// Start is then return c.w.Start(ctx, c.run).
func (w *Worker) Start(ctx context.Context, fn func(ctx context.Context)) error {
	w.Go(ctx, fn)
	return nil
}

// Stop halts as Halt does, for a component whose Stop cannot fail: its
// Stop is then return c.w.Stop().
func (w *Worker) Stop() error {
	w.Halt()
	return nil
}

// Runner is a background worker's body: Run works until ctx ends.
type Runner interface {
	Run(ctx context.Context)
}

// Component runs a Runner between Start and Stop.
type Component struct {
	Runner Runner
	w      Worker
}

// Go is the component that runs r.
func Go(r Runner) *Component { return &Component{Runner: r} }

// Start runs the Runner in a goroutine until ctx ends or Stop.
func (c *Component) Start(ctx context.Context) error { return c.w.Start(ctx, c.Runner.Run) }

// Stop ends the Runner's context and returns once Run has.
func (c *Component) Stop() error { return c.w.Stop() }
