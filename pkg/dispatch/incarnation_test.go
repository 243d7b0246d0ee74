package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/subject"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// The race of a sink re-created elsewhere, at the level where it
// happens: a replica still runs the dispatcher of sink "orders" (tenant
// acme) when, on another replica, "orders" is deleted (its consumers with
// it) and created again for tenant globex (new consumers of the same
// name). The old dispatcher must never deliver a globex event, and never
// write a dead letter the new sink would list.

// gated is a driver that records what it was sent, and holds every event
// until open is closed, then answers it with fail (nil: delivered).
type gated struct {
	open chan struct{}
	fail error
	once sync.Once
	mu   sync.Mutex
	ids  []string
}

// release lets the held events go, once.
func (g *gated) release() { g.once.Do(func() { close(g.open) }) }

func (g *gated) Send(ctx context.Context, batch []*event.Event) error {
	g.mu.Lock()
	for _, e := range batch {
		g.ids = append(g.ids, e.ID)
	}
	g.mu.Unlock()
	if g.open != nil {
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.fail
}

func (*gated) Close(context.Context) error { return nil }

func (g *gated) sent(prefix string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, id := range g.ids {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

type incarnationRig struct {
	b        *bus.Bus
	dlq      *deadletter.Store
	old, new config.Sink
	// replaced closes once the new incarnation's consumers exist. The
	// old dispatcher's recovery waits for it: it stands for a replica
	// that still saw the old sink when it decided to recover (its check
	// of the sinks bucket came before the delete).
	replaced chan struct{}
}

func newIncarnationRig(t *testing.T) *incarnationRig {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	b, cfg := testutil.OpenBus(t, js, func(c *config.Config) {
		c.Stream.MaxBytes.N = 8 << 20
		c.DeadLetters.MaxBytes.N = 8 << 20
	})
	mk := func(tenant, inc string) config.Sink {
		s := config.SinkDefaults(nil)
		s.Name, s.Events, s.Tenant, s.Incarnation = "orders", []string{">"}, tenant, inc
		s.Concurrency, s.Batch.MaxEvents = 1, 1
		s.AckWait.D = 5 * time.Second
		s.Retry.Schedule = []config.Duration{{D: 50 * time.Millisecond}}
		return s
	}
	return &incarnationRig{b: b, dlq: &deadletter.Store{JS: b.JS, Stream: cfg.DeadLetters.Stream},
		old: mk("acme", "api-old"), new: mk("globex", "api-new"), replaced: make(chan struct{})}
}

// start runs a dispatcher for s whose lost consumers are recreated the
// way the gateway recreates them.
func (r *incarnationRig) start(t *testing.T, s config.Sink, drv sink.Driver, log *slog.Logger) *dispatch.Dispatcher {
	t.Helper()
	events, redrive, err := r.b.EnsureConsumers(t.Context(), s, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	recreate := func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error) {
		select {
		case <-r.replaced:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		info := lost.CachedInfo()
		cc := bus.ConsumerConfig(s, 1)
		if info.Name != s.Name {
			cc = bus.RedriveConsumerConfig(s, 1)
		}
		return r.b.RecreateConsumer(ctx, info.Stream, cc, 0)
	}
	d := dispatch.New(dispatch.Options{Sink: s, Driver: drv, JS: r.b.JS, Consumers: []jetstream.Consumer{events, redrive},
		DLQ: r.dlq, Metrics: telemetry.NewMetrics(), Logger: log, Recreate: recreate})
	runDispatcher(t, d, time.Second)
	return d
}

// replace deletes the sink's consumers and creates the new incarnation's,
// as a delete and a create on another replica do.
func (r *incarnationRig) replace(t *testing.T) {
	t.Helper()
	for _, c := range []struct{ stream, name string }{{"EVENTS", "orders"}, {bus.RedriveStream, subject.RedriveConsumer("orders")}} {
		if err := r.b.JS.DeleteConsumer(t.Context(), c.stream, c.name); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := r.b.EnsureConsumers(t.Context(), r.new, 1, 0); err != nil {
		t.Fatal(err)
	}
	close(r.replaced)
}

func (r *incarnationRig) publish(t *testing.T, tenant string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := nats.NewMsg(subject.TenantEvent(tenant, "order.created"))
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("%s-%02d", tenant, i))
		m.Data = []byte(`{}`)
		if _, err := r.b.JS.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *incarnationRig) consumer(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := r.b.JS.Consumer(t.Context(), "EVENTS", "orders")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func textLogger(buf *testutil.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

// The old dispatcher is waiting on a pull when its consumer is deleted:
// it sees the loss and recovers, which must not bind it to the new
// incarnation's consumer of the same name.
func TestOldDispatcherNeverRecoversOntoANewIncarnation(t *testing.T) {
	r := newIncarnationRig(t)
	var oldLog testutil.SyncBuffer
	oldDrv := &gated{}
	r.start(t, r.old, oldDrv, textLogger(&oldLog))
	testutil.WaitFor(t, 5*time.Second, "the old dispatcher's pull waiting", func() bool { return r.consumer(t).NumWaiting > 0 })
	r.replace(t)
	testutil.WaitFor(t, 10*time.Second, "the old dispatcher's recovery to end", func() bool {
		s := oldLog.String()
		return strings.Contains(s, "consumer recreated") || strings.Contains(s, "this source ends")
	})
	r.publish(t, "globex", 10)
	newDrv := &gated{}
	r.start(t, r.new, newDrv, slog.New(slog.DiscardHandler))
	testutil.WaitFor(t, 10*time.Second, "the ten globex events delivered", func() bool {
		return oldDrv.sent("globex")+newDrv.sent("globex") >= 10
	})
	if n := oldDrv.sent("globex"); n > 0 {
		t.Fatalf("the deleted acme sink's dispatcher delivered %d of 10 globex events to its endpoint", n)
	}
}

// The old dispatcher has every credit in hand (no pull waiting) when its
// consumer is deleted and the new one made: its next pull goes to the new
// consumer by name, without an error. It must deliver none of it.
func TestOldDispatcherNeverPullsANewIncarnation(t *testing.T) {
	r := newIncarnationRig(t)
	var oldLog testutil.SyncBuffer
	oldDrv := &gated{open: make(chan struct{})}
	t.Cleanup(oldDrv.release)
	r.start(t, r.old, oldDrv, textLogger(&oldLog))
	r.publish(t, "acme", 2)
	testutil.WaitFor(t, 5*time.Second, "the old dispatcher holding both acme events, no pull waiting", func() bool {
		info := r.consumer(t)
		return oldDrv.sent("acme") == 1 && info.NumAckPending == 2 && info.NumWaiting == 0
	})
	r.replace(t)
	r.publish(t, "globex", 10)
	oldDrv.release()
	testutil.WaitFor(t, 10*time.Second, "the old dispatcher to deliver globex events or stop", func() bool {
		return oldDrv.sent("globex") > 0 || strings.Contains(oldLog.String(), "this source ends")
	})
	if n := oldDrv.sent("globex"); n > 0 {
		t.Fatalf("the deleted acme sink's dispatcher delivered %d globex events to its endpoint", n)
	}
	newDrv := &gated{}
	r.start(t, r.new, newDrv, slog.New(slog.DiscardHandler))
	testutil.WaitFor(t, 10*time.Second, "the new sink delivering all ten globex events", func() bool { return newDrv.sent("globex") >= 10 })
}

// The old dispatcher dead-letters an acme event after the new sink was
// made: the record must not land in the new sink's dead letters.
func TestOldDispatcherNeverWritesANewIncarnationsDeadLetters(t *testing.T) {
	r := newIncarnationRig(t)
	var oldLog testutil.SyncBuffer
	oldDrv := &gated{open: make(chan struct{}), fail: sink.PermanentError(410, errors.New("gone"))}
	t.Cleanup(oldDrv.release)
	r.start(t, r.old, oldDrv, textLogger(&oldLog))
	r.publish(t, "acme", 1)
	testutil.WaitFor(t, 5*time.Second, "the old dispatcher holding the acme event", func() bool { return oldDrv.sent("acme") == 1 })
	r.replace(t)
	oldDrv.release()
	testutil.WaitFor(t, 10*time.Second, "the old dispatcher's dead letter stored or refused", func() bool {
		s := oldLog.String()
		return strings.Contains(s, "dead-lettered") || strings.Contains(s, "not the sink's any more")
	})
	recs, err := r.dlq.List(t.Context(), "orders", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		t.Fatalf("the re-created sink lists %d dead letter(s) of the deleted one (first: %s)", len(recs), recs[0].ID)
	}
}

// The old dispatcher's pause (its breaker opening, an operator's pause
// applied late) reaches JetStream by the consumer's name: it must not
// pause the new sink's consumer, nor lift the new sink's own pause.
func TestOldDispatcherNeverPausesANewIncarnation(t *testing.T) {
	r := newIncarnationRig(t)
	old := r.start(t, r.old, &gated{}, slog.New(slog.DiscardHandler))
	r.replace(t)
	old.Pause("breaker of the deleted sink")
	for _, c := range []struct{ stream, name string }{{"EVENTS", "orders"}, {bus.RedriveStream, subject.RedriveConsumer("orders")}} {
		cons, err := r.b.JS.Consumer(t.Context(), c.stream, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if info := cons.CachedInfo(); info.Paused || info.Config.PauseUntil != nil {
			t.Fatalf("the deleted sink's pause paused the new sink's consumer %s until %v", c.name, info.Config.PauseUntil)
		}
	}
}
