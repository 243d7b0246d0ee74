package sink

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A shared context is canceled by Close and by its parent, like Enter's;
// a send from another parent gets a context of its own; after Close a
// send is refused.
func TestEnterSharedEndsWithCloseAndParent(t *testing.T) {
	l := NewLifecycle(0)
	parent, cancelParent := context.WithCancel(context.Background())
	ctx1, done1, err := l.EnterShared(parent)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, done2, err := l.EnterShared(parent)
	if err != nil {
		t.Fatal(err)
	}
	if ctx1 != ctx2 {
		t.Fatal("two sends from one parent got two contexts")
	}
	done1()
	done2()
	if ctx1.Err() != nil {
		t.Fatal("a send's end canceled the shared context")
	}

	other, cancelOther := context.WithCancel(context.Background())
	ctx3, done3, err := l.EnterShared(other)
	if err != nil {
		t.Fatal(err)
	}
	cancelOther()
	if ctx3.Err() == nil || ctx1.Err() != nil {
		t.Fatalf("another parent's cancel: its send %v, the shared one %v", ctx3.Err(), ctx1.Err())
	}
	done3()

	ctx4, done4, err := l.EnterShared(parent)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close(nil) }()
	select {
	case <-ctx4.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel the shared context of a send in flight")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a send was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	done4()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.EnterShared(parent); !errors.Is(err, ErrClosed) {
		t.Fatalf("a send after Close: %v, want ErrClosed", err)
	}
	cancelParent()
}

// Once the parent kept has ended (a test send's request before the
// dispatcher's first send), the next parent is shared instead.
func TestEnterSharedReplacesAnEndedParent(t *testing.T) {
	l := NewLifecycle(0)
	first, cancelFirst := context.WithCancel(context.Background())
	_, done, err := l.EnterShared(first)
	if err != nil {
		t.Fatal(err)
	}
	done()
	replaced := l.shared.Load()
	cancelFirst()
	next := context.WithValue(context.Background(), struct{}{}, "dispatcher")
	nextCtx, cancelNext := context.WithCancel(next)
	defer cancelNext()
	a, doneA, _ := l.EnterShared(nextCtx)
	b, doneB, _ := l.EnterShared(nextCtx)
	doneA()
	doneB()
	if a != b || a.Err() != nil {
		t.Fatalf("after the first parent ended, two sends from the next got %p and %p (err %v)", a, b, a.Err())
	}
	// The replaced context no longer hangs on the lifecycle's: a reload
	// each hour would otherwise add one registration for good.
	if replaced.unhook() {
		t.Error("the replaced shared context was still registered with the lifecycle")
	}
}

// A canceled parent cancels the shared context.
func TestEnterSharedEndsWithParent(t *testing.T) {
	l := NewLifecycle(0)
	parent, cancel := context.WithCancel(context.Background())
	ctx, done, err := l.EnterShared(parent)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the parent's cancel did not reach the shared context")
	}
}

// Every driver's failed call is read the same way before its own rules:
// a canceled send is Canceled, a deadline (the timeout's, or the send's
// caller's) is retryable, and only the rest is the driver's to judge.
func TestFailedReadsCancelAndTimeoutForEveryDriver(t *testing.T) {
	errOwn := errors.New("the destination's answer")
	own := func(err error) error { return PermanentError(400, err) }
	l := NewLifecycle(time.Millisecond)

	send, done, err := l.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	call, cancel := l.Within(send)
	if got := Classify(l.Failed(send, call, errOwn, own)); got.Class != Permanent || got.Status != 400 {
		t.Errorf("an answer within the timeout: %v, want the driver's own reading", got)
	}
	<-call.Done()
	got := l.Failed(send, call, call.Err(), own)
	if c := Classify(got); c.Class != Retryable || !strings.HasSuffix(got.Error(), "no answer within the timeout of 1ms: context deadline exceeded") {
		t.Errorf("past the timeout: %v (%v), want a retryable timeout naming it", c.Class, got)
	}
	cancel()
	done()

	caller, stop := context.WithTimeout(context.Background(), time.Millisecond)
	defer stop()
	send, done, _ = l.Enter(caller)
	<-send.Done()
	if c := Classify(l.Failed(send, send, send.Err(), own)); c.Class != Retryable {
		t.Errorf("past the caller's deadline: %v, want retryable", c.Class)
	}
	done()

	send, done, _ = l.Enter(context.Background())
	call, cancel = l.Within(send)
	defer cancel()
	closed := make(chan error)
	go func() { closed <- l.Close(nil) }()
	<-send.Done() // Close cancels, then waits for the send to return
	if c := Classify(l.Failed(send, call, errOwn, own)); c.Class != Canceled {
		t.Errorf("after Close: %v, want canceled", c.Class)
	}
	done()
	<-closed

	if ctx, cancel := NewLifecycle(0).Within(context.Background()); ctx != context.Background() {
		t.Error("no timeout: Within must hand back the send's context")
	} else {
		cancel()
	}
}
