package sink

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is the cause of a Canceled error from a Send after Close.
var ErrClosed = errors.New("driver closed")

// Lifecycle gives a driver the Close semantics the Driver interface
// promises: Close cancels sends in flight, waits for them to return, and
// is idempotent; a Send after Close fails as Canceled.
type Lifecycle struct {
	closed context.Context
	cancel context.CancelFunc
	once   sync.Once
	mu     sync.RWMutex // sends hold it for reading, Close for writing
}

// NewLifecycle returns an open Lifecycle.
func NewLifecycle() *Lifecycle {
	l := &Lifecycle{}
	l.closed, l.cancel = context.WithCancel(context.Background())
	return l
}

// Enter starts a Send. The returned context is also canceled by Close;
// call done when the Send returns.
func (l *Lifecycle) Enter(ctx context.Context) (_ context.Context, done func(), err error) {
	l.mu.RLock()
	if l.closed.Err() != nil {
		l.mu.RUnlock()
		return nil, nil, CanceledError(ErrClosed)
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.closed, cancel)
	return ctx, func() { stop(); cancel(); l.mu.RUnlock() }, nil
}

// EnterTimeout is Enter with the Send also bounded by timeout (none when
// timeout is not positive).
func (l *Lifecycle) EnterTimeout(ctx context.Context, timeout time.Duration) (context.Context, func(), error) {
	ctx, leave, err := l.Enter(ctx)
	if err != nil || timeout <= 0 {
		return ctx, leave, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); leave() }, nil
}

// Close cancels sends in flight, waits for them, then runs release once.
func (l *Lifecycle) Close(release func() error) error {
	var err error
	l.once.Do(func() {
		l.cancel()
		l.mu.Lock()
		defer l.mu.Unlock()
		if release != nil {
			err = release()
		}
	})
	return err
}
