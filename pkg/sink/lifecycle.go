package sink

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is the cause of a Canceled error from a Send after Close.
var ErrClosed = errors.New("driver closed")

// Lifecycle gives a driver the Close semantics the Driver interface
// promises: Close cancels sends in flight, waits for them to return, and
// is idempotent; a Send after Close fails as Canceled. It also holds the
// sink's timeout and the reading of a failed call every driver shares
// (Within, Failed): a driver says only which calls a timeout bounds and
// what its destination's answers mean.
type Lifecycle struct {
	timeout time.Duration
	closed  context.Context
	cancel  context.CancelFunc
	once    sync.Once
	mu      sync.RWMutex // sends hold it for reading, Close for writing
	shared  atomic.Pointer[sharedCtx]
	exit    func() // mu.RUnlock, bound once rather than per send
}

// sharedCtx is the context EnterShared hands to every send from one
// parent: the parent's, canceled by Close as well.
type sharedCtx struct {
	parent context.Context
	ctx    context.Context
	// unhook takes the context's cancel off the lifecycle's: once it is
	// replaced, Close need not reach it, and each replacement (every
	// reload's new dispatcher) would otherwise stay registered for good.
	unhook func() bool
}

// NewLifecycle returns an open Lifecycle whose calls to the destination
// each take at most timeout (unbounded when zero).
func NewLifecycle(timeout time.Duration) *Lifecycle {
	l := &Lifecycle{timeout: timeout}
	l.closed, l.cancel = context.WithCancel(context.Background())
	l.exit = l.mu.RUnlock
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

// EnterShared is Enter for a driver whose sends use their context only for
// calls that end when the send does (an HTTP round trip): the context is
// derived once per parent and shared by the sends, where Enter derives one
// per send — two registrations on contexts all workers share, which cost
// them a lock each per event. A dispatcher passes the same parent to every
// send, so the parent kept is the first seen, until it ends (a test send's
// request, a dispatcher stopped by a reload); another gets Enter's.
func (l *Lifecycle) EnterShared(ctx context.Context) (_ context.Context, done func(), err error) {
	s := l.shared.Load()
	if s == nil || s.parent != ctx {
		if (s != nil && s.ctx.Err() == nil) || reflect.TypeOf(ctx).Kind() != reflect.Pointer {
			return l.Enter(ctx)
		}
		// Comparable by pointer, so the parent check above cannot panic.
		merged, cancel := context.WithCancel(ctx)
		next := &sharedCtx{parent: ctx, ctx: merged, unhook: context.AfterFunc(l.closed, cancel)}
		if !l.shared.CompareAndSwap(s, next) {
			next.unhook()
			cancel()
			return l.Enter(ctx)
		}
		if s != nil {
			s.unhook() // its parent has ended, so its context has too
		}
		s = next
	}
	l.mu.RLock()
	if l.closed.Err() != nil {
		l.mu.RUnlock()
		return nil, nil, CanceledError(ErrClosed)
	}
	return s.ctx, l.exit, nil
}

// Timeout is how long one call to the destination may take; zero: no
// bound.
func (l *Lifecycle) Timeout() time.Duration { return l.timeout }

// Within bounds one call to the destination by the timeout. ctx is the
// send's (from Enter, EnterShared or Batch); which calls make up a send
// (a request, a publish and its acks, the whole batch) is the driver's
// to say, and its docs'.
func (l *Lifecycle) Within(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.timeout > 0 {
		return context.WithTimeout(ctx, l.timeout)
	}
	return ctx, func() {}
}

// Failed classifies the failure err of a call made within call, a context
// Within derived from the send's context send (or send itself, when the
// destination's client applies the timeout): Canceled when the send was
// canceled (Close, a dispatcher stopping); retryable when a deadline
// passed first, the send's caller's or the timeout; else what own, the
// driver's reading of its destination's answers, makes of it.
func (l *Lifecycle) Failed(send, call context.Context, err error, own func(error) error) error {
	switch {
	case errors.Is(send.Err(), context.Canceled):
		return CanceledError(err)
	case send.Err() != nil:
		return RetryableError(0, err)
	case call.Err() != nil:
		return RetryableError(0, fmt.Errorf("no answer within the timeout of %s: %w", l.timeout, err))
	}
	return own(err)
}

// Batch runs one Send of n events: it enters the lifecycle, lets send
// record each failed index in be, and returns what Send returns: nil when
// none failed, the failure itself for a batch of one, else the
// *BatchError.
func (l *Lifecycle) Batch(ctx context.Context, n int, send func(ctx context.Context, be *BatchError)) error {
	ctx, done, err := l.Enter(ctx)
	if err != nil {
		return err
	}
	defer done()
	be := NewBatchError()
	send(ctx, be)
	switch {
	case len(be.Failed) == 0:
		return nil
	case n == 1:
		return be.Failed[0]
	}
	return be
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

// Base is what a batching driver embeds: Lifecycle's Send and Close
// semantics. How many events a Send takes is its kind's Spec.MaxBatch.
type Base struct {
	*Lifecycle
}

// NewBase returns an open Base whose calls take at most timeout.
func NewBase(timeout time.Duration) Base { return Base{Lifecycle: NewLifecycle(timeout)} }
