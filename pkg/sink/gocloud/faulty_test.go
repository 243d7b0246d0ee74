package gocloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/batcher"
	"gocloud.dev/pubsub/driver"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/gocloud"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// faultyTopic is a gocloud driver.Topic that can be told to fail or hold
// the sends of one event id, under gocloud's real portable Topic (its
// batcher and its retry loop). It behaves as a provider's driver does: it
// calls each message's BeforeSend before sending it, and calls a
// retryable fault retryable, as rabbit and azuresb do, so the topic
// retries it on its own.
type faultyTopic struct {
	mu       sync.Mutex
	got      []sinktest.Received
	faults   map[string]sinktest.Fault
	holds    map[string]chan struct{}
	attempts map[string]int
}

type faultErr struct {
	code      gcerrors.ErrorCode
	retryable bool
}

func (e *faultErr) Error() string { return "injected: " + e.code.String() }

func (t *faultyTopic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	for _, m := range ms {
		if m.BeforeSend != nil {
			if err := m.BeforeSend(func(any) bool { return false }); err != nil {
				return err
			}
		}
		id := m.Metadata["id"]
		t.mu.Lock()
		t.attempts[id]++
		fault, failing := t.faults[id]
		hold := t.holds[id]
		t.mu.Unlock()
		if hold != nil {
			<-hold // a slow provider: the send is on the wire, whatever the caller does
		}
		switch {
		case failing && fault == sinktest.FaultRetryable:
			return &faultErr{code: gcerrors.Internal, retryable: true}
		case failing && fault == sinktest.FaultPermanent:
			return &faultErr{code: gcerrors.InvalidArgument}
		}
		ts, _ := time.Parse(time.RFC3339Nano, m.Metadata["time"])
		t.mu.Lock()
		t.got = append(t.got, sinktest.Received{ID: id, Type: m.Metadata["type"], Time: ts, Data: m.Body})
		t.mu.Unlock()
	}
	return nil
}

func (t *faultyTopic) IsRetryable(err error) bool {
	var fe *faultErr
	return errors.As(err, &fe) && fe.retryable
}

func (t *faultyTopic) ErrorCode(err error) gcerrors.ErrorCode {
	var fe *faultErr
	if errors.As(err, &fe) {
		return fe.code
	}
	return gcerrors.Unknown
}

func (*faultyTopic) As(any) bool             { return false }
func (*faultyTopic) ErrorAs(error, any) bool { return false }
func (*faultyTopic) Close() error            { return nil }

// faultyTopics are the topics opened through faulty://NAME?handlers=N.
var faultyTopics sync.Map

type faultyOpener struct{}

func (faultyOpener) OpenTopicURL(_ context.Context, u *url.URL) (*pubsub.Topic, error) {
	t := &faultyTopic{faults: map[string]sinktest.Fault{}, holds: map[string]chan struct{}{}, attempts: map[string]int{}}
	faultyTopics.Store(u.Host, t)
	handlers, _ := strconv.Atoi(u.Query().Get("handlers"))
	return pubsub.NewTopic(t, &batcher.Options{MaxBatchSize: 1, MaxHandlers: max(handlers, 1)}), nil
}

func init() { pubsub.DefaultURLMux().RegisterTopic("faulty", faultyOpener{}) }

// faultyHarness runs the conformance suite through faulty:// topics.
type faultyHarness struct {
	next   atomic.Int64
	mu     sync.Mutex
	topics []*faultyTopic
	faults map[string]sinktest.Fault
}

func (h *faultyHarness) Open(t *testing.T) sink.Driver {
	name := fmt.Sprintf("t%d", h.next.Add(1))
	d := open(t, "faulty://"+name+"?handlers=8")
	v, _ := faultyTopics.Load(name)
	ft := v.(*faultyTopic)
	h.mu.Lock()
	h.topics = append(h.topics, ft)
	for id, f := range h.faults {
		ft.faults[id] = f
	}
	h.mu.Unlock()
	return d
}

func (h *faultyHarness) Received(*testing.T) []sinktest.Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sinktest.Received
	for _, ft := range h.topics {
		ft.mu.Lock()
		out = append(out, ft.got...)
		ft.mu.Unlock()
	}
	return out
}

func (h *faultyHarness) Fail(id string, f sinktest.Fault) bool {
	if f == sinktest.FaultRateLimited {
		return false // gocloud has no Retry-After
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.faults == nil {
		h.faults = map[string]sinktest.Fault{}
	}
	h.faults[id] = f
	for _, ft := range h.topics {
		ft.mu.Lock()
		ft.faults[id] = f
		ft.mu.Unlock()
	}
	return true
}

func (h *faultyHarness) Attempts(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ft := range h.topics {
		ft.mu.Lock()
		n += ft.attempts[id]
		ft.mu.Unlock()
	}
	return n
}

// The whole suite, with faults, through gocloud's portable Topic: one
// retryable fault is one attempt at the provider, because the driver
// refuses the topic's own retry.
func TestConformanceFaultInjection(t *testing.T) {
	sinktest.Run(t, &faultyHarness{}, sinktest.Capabilities{MaxBatch: gocloud.MaxBatch})
}

func openFaulty(t *testing.T, name string, handlers int) (*gocloud.Driver, *faultyTopic) {
	d := open(t, fmt.Sprintf("faulty://%s?handlers=%d", name, handlers))
	v, _ := faultyTopics.Load(name)
	return d, v.(*faultyTopic)
}

func ev(id string) *event.Event {
	return &event.Event{ID: id, Type: "order.completed", Source: "tests", Time: time.Now().UTC(), Data: []byte(`{}`)}
}

// A retryable failure: gocloud's Topic would send again by itself (after
// its backoff, on a background context, until shutdown). The driver's
// BeforeSend refuses that second send: the provider saw one attempt, Send
// reports a retryable failure, and nothing more arrives later.
func TestTopicRetryIsRefused(t *testing.T) {
	d, ft := openFaulty(t, "retry", 1)
	ft.faults["r1"] = sinktest.FaultRetryable
	err := d.Send(t.Context(), []*event.Event{ev("r1")})
	if c := sink.Classify(sink.ErrorFor(err, 0)); err == nil || c.Class != sink.Retryable {
		t.Fatalf("Send = %v, want retryable", err)
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %q does not say the topic's retry was refused", err)
	}
	// 1500ms is longer than gocloud's first backoff step: a retry the
	// topic was let make would reach the provider within it.
	testutil.Holds(t, 1500*time.Millisecond, "one attempt at the provider", func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		return ft.attempts["r1"] == 1 && d.Sends() == 1
	})
	ft.mu.Lock()
	n := ft.attempts["r1"]
	ft.mu.Unlock()
	if n != 1 || d.Sends() != 1 {
		t.Errorf("the provider saw %d attempts (driver counted %d sends), want 1", n, d.Sends())
	}
}

// What a timeout does, exactly. A send already handed to the provider
// when Send's deadline passes still lands afterwards (the provider call
// runs on the topic's background context): that is the late duplicate
// the README names, with the same id, beside the dispatcher's retry. A
// send still queued in the topic when its caller gave up is refused by
// BeforeSend and never lands.
func TestTimeoutInFlightLandsLateQueuedDoesNot(t *testing.T) {
	d, ft := openFaulty(t, "late", 1) // one send at a time: the second queues
	release := make(chan struct{})
	ft.holds["slow"] = release
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, id := range []string{"slow", "queued"} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			errs[i] = d.Send(ctx, []*event.Event{ev(id)})
		})
		if id == "slow" { // in the provider's hands before the second queues
			testutil.WaitFor(t, 5*time.Second, "the slow send at the provider", func() bool {
				ft.mu.Lock()
				defer ft.mu.Unlock()
				return ft.attempts["slow"] == 1
			})
		}
	}
	wg.Wait()
	for i, err := range errs {
		if c := sink.Classify(sink.ErrorFor(err, 0)); err == nil || c.Class != sink.Retryable {
			t.Errorf("send %d = %v, want a retryable timeout", i, err)
		}
	}
	close(release)
	testutil.WaitFor(t, 5*time.Second, "the in-flight send to land", func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		return len(ft.got) == 1
	})
	// The queued send, were it let through, would follow the in-flight
	// one at once (one send at a time): 200ms more is ample.
	testutil.Holds(t, 200*time.Millisecond, "only the in-flight send landed", func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		return len(ft.got) == 1
	})
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if len(ft.got) != 1 || ft.got[0].ID != "slow" {
		t.Errorf("landed %v, want only the in-flight send", ft.got)
	}
	if ft.attempts["queued"] != 0 {
		t.Errorf("the queued send reached the provider %d times after its caller gave up", ft.attempts["queued"])
	}
}
