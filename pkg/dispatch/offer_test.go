package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
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
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Push mode: a dispatcher with no consumers of its own, handed messages
// by Offer. The messages here are real: fetched by the test from a
// durable consumer on the events stream, standing for the deliverer that
// serves shared sinks.

// pushIdle is the rigs' IdleStop: short, so that runs end within a test.
const pushIdle = 100 * time.Millisecond

type pushRig struct {
	b     *bus.Bus
	dlq   *deadletter.Store
	sink  config.Sink
	cons  jetstream.Consumer // the deliverer's stand-in
	state jetstream.KeyValue
}

// newPushRig has a sink like the pull rig's (run): schedule 200ms, 400ms,
// no jitter, concurrency 2, batches of one.
func newPushRig(t *testing.T) *pushRig {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	b, cfg := testutil.OpenBus(t, js, func(c *config.Config) {
		c.Stream.MaxBytes.N = 8 << 20
		c.DeadLetters.MaxBytes.N = 8 << 20
	})
	s := config.SinkDefaults(nil)
	s.Name, s.Events, s.Concurrency, s.Delivery = "pushed", []string{">"}, 2, config.DeliveryShared
	s.AckWait.D = 5 * time.Second
	s.Batch.MaxEvents, s.Batch.MaxWait.D = 1, 5*time.Millisecond
	jitter := 0.0
	s.Retry.Schedule, s.Retry.Jitter = []config.Duration{{D: 200 * time.Millisecond}, {D: 400 * time.Millisecond}}, &jitter
	s.Retry.MaxRetryAfter.D = time.Second
	cons, err := b.JS.CreateOrUpdateConsumer(t.Context(), "EVENTS", jetstream.ConsumerConfig{
		Durable: "deliverer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &pushRig{b: b, dlq: &deadletter.Store{JS: b.JS, Stream: cfg.DeadLetters.Stream}, sink: s, cons: cons, state: state}
}

// start arms a push-mode dispatcher as the gateway wires one (handbacks
// included), changed by tweak. stop ends Start's context and fails t
// unless wait returns within ten seconds.
func (r *pushRig) start(t *testing.T, drv sink.Driver, tweak func(*dispatch.Options)) (d *dispatch.Dispatcher, stop func()) {
	t.Helper()
	opts := handbackOptions(t, r.b, dispatch.Options{Sink: r.sink, Driver: drv, MaxBatch: 1, JS: r.b.JS, DLQ: r.dlq,
		Metrics: telemetry.NewMetrics(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), IdleStop: pushIdle}, r.state)
	if tweak != nil {
		tweak(&opts)
	}
	d = dispatch.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	wait := d.Start(ctx, 2*time.Second)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			done := make(chan struct{})
			go func() { wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("push-mode dispatcher did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

func (r *pushRig) publish(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		msg := &nats.Msg{Subject: "events.order.created", Data: []byte(`{}`), Header: nats.Header{}}
		msg.Header.Set(event.HeaderMsgID, id)
		if _, err := r.b.JS.PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
}

// fetch takes n messages from the deliverer's consumer, as the
// deliverer would, each wrapped to record how it is settled.
func (r *pushRig) fetch(t *testing.T, n int) []*recMsg {
	t.Helper()
	var out []*recMsg
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		b, err := r.cons.Fetch(n-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			out = append(out, newRecMsg(m))
		}
		if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
	}
	if len(out) != n {
		t.Fatalf("fetched %d messages, want %d", len(out), n)
	}
	return out
}

// unsettled is how many of the deliverer's messages are neither acked nor
// terminated.
func (r *pushRig) unsettled(t *testing.T) int {
	t.Helper()
	info, err := r.cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending + int(info.NumPending)
}

func (r *pushRig) deadLetters(t *testing.T) []deadletter.Record {
	t.Helper()
	recs, err := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// recMsg is a real JetStream message that records how it was settled.
type recMsg struct {
	jetstream.Msg
	mu      sync.Mutex
	settles []string
	settled chan struct{} // closed at the first settle
}

func newRecMsg(m jetstream.Msg) *recMsg { return &recMsg{Msg: m, settled: make(chan struct{})} }

func (m *recMsg) note(s string) {
	m.mu.Lock()
	m.settles = append(m.settles, s)
	if len(m.settles) == 1 {
		close(m.settled)
	}
	m.mu.Unlock()
}

func (m *recMsg) calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.settles)
}

func (m *recMsg) Ack() error { m.note("ack"); return m.Msg.Ack() }
func (m *recMsg) Nak() error { m.note("nak"); return m.Msg.Nak() }
func (m *recMsg) Term() error {
	m.note("term")
	return m.Msg.Term()
}

func (m *recMsg) TermWithReason(reason string) error {
	m.note("term")
	return m.Msg.TermWithReason(reason)
}

func (m *recMsg) NakWithDelay(d time.Duration) error {
	m.note("nak " + d.String())
	return m.Msg.NakWithDelay(d)
}

func (m *recMsg) id() string { return m.Headers().Get(event.HeaderMsgID) }

// settledOnce reports whether every message was settled exactly once, by
// want.
func settledOnce(msgs []*recMsg, want string) bool {
	for _, m := range msgs {
		if c := m.calls(); len(c) != 1 || c[0] != want {
			return false
		}
	}
	return true
}

// goroutinesBackTo waits until the process runs no more goroutines than
// base: a push-mode dispatcher's run has ended.
func goroutinesBackTo(t *testing.T, base int, what string) {
	t.Helper()
	if !testutil.Poll(10*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%s: %d goroutines, want at most %d as before the first Offer\n%s", what, runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

// Offered messages are delivered and acked, by a run that the first
// Offer starts and that ends after IdleStop, leaving no goroutine behind;
// the next Offer starts another. With a batching driver too.
func TestPushDeliversAndStopsIdle(t *testing.T) {
	for _, maxBatch := range []int{1, 3} {
		t.Run(fmt.Sprintf("batches of %d", maxBatch), func(t *testing.T) {
			r := newPushRig(t)
			drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
			d, _ := r.start(t, drv, func(o *dispatch.Options) { o.MaxBatch = maxBatch })
			for round := 1; round <= 2; round++ {
				ids := []string{fmt.Sprintf("r%d-a", round), fmt.Sprintf("r%d-b", round), fmt.Sprintf("r%d-c", round), fmt.Sprintf("r%d-d", round)}
				r.publish(t, ids...)
				msgs := r.fetch(t, len(ids))
				base := runtime.NumGoroutine()
				for _, m := range msgs {
					if !d.Offer(m) {
						t.Fatalf("Offer(%s) refused", m.id())
					}
				}
				testutil.WaitFor(t, 10*time.Second, "every offered message delivered and acked", func() bool {
					return settledOnce(msgs, "ack") && d.Held() == 0 && r.unsettled(t) == 0
				})
				for _, id := range ids {
					if n := len(drv.attempts(id)); n != 1 {
						t.Errorf("%s: %d attempts, want 1", id, n)
					}
				}
				if got, _ := d.Counts(); got != uint64(4*round) {
					t.Errorf("Counts: %d delivered, want %d", got, 4*round)
				}
				goroutinesBackTo(t, base, "after IdleStop")
				if n := d.RunsStarted(); n != uint64(round) {
					t.Errorf("%d runs started after round %d, want %d", n, round, round)
				}
			}
		})
	}
}

// Offer takes no more than Inbox messages unsettled: past it, it refuses
// (and takes nothing), and takes again once messages are settled.
func TestPushInboxBound(t *testing.T) {
	r := newPushRig(t)
	drv := &gated{open: make(chan struct{})}
	d, _ := r.start(t, drv, func(o *dispatch.Options) { o.Inbox = 2 })
	r.publish(t, "a", "b", "c")
	msgs := r.fetch(t, 3)
	for _, m := range msgs[:2] {
		if !d.Offer(m) {
			t.Fatalf("Offer(%s) refused within the inbox", m.id())
		}
	}
	testutil.WaitFor(t, 5*time.Second, "both offered messages at the driver", func() bool { return drv.sent("") == 2 })
	if d.Offer(msgs[2]) {
		t.Fatal("Offer past the inbox of 2 taken")
	}
	if n := d.Held(); n != 2 {
		t.Errorf("Held %d, want 2", n)
	}
	if c := msgs[2].calls(); len(c) != 0 {
		t.Errorf("a refused message was settled: %v", c)
	}
	drv.release()
	testutil.WaitFor(t, 5*time.Second, "the two settled", func() bool { return settledOnce(msgs[:2], "ack") && d.Held() == 0 })
	if !d.Offer(msgs[2]) {
		t.Fatal("Offer refused once the inbox emptied")
	}
	testutil.WaitFor(t, 5*time.Second, "the third delivered", func() bool { return settledOnce(msgs, "ack") && d.Held() == 0 })
}

// An offered message is settled as a pulled one is: a retryable failure
// with the message's own NakWithDelay on the schedule (and JetStream
// redelivers it then), a permanent one with a dead letter and Term.
func TestPushSettlesLikeAPulledMessage(t *testing.T) {
	tests := []struct {
		name      string
		script    func(id string, n int) error
		first     string // how the first delivery is settled
		redeliver bool   // JetStream hands it back to the deliverer, for a second attempt
		dlq       string // the dead letter's reason, "" for none
	}{
		{"retryable: NakWithDelay on the schedule, then delivered", func(_ string, n int) error {
			if n == 1 {
				return sink.RetryableError(503, errors.New("unavailable"))
			}
			return nil
		}, "nak 200ms", true, ""},
		{"permanent: dead-lettered and terminated", func(string, int) error {
			return sink.PermanentError(410, errors.New("gone"))
		}, "term", false, "gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newPushRig(t)
			drv := &scripted{script: tt.script, at: map[string][]time.Time{}}
			d, _ := r.start(t, drv, nil)
			r.publish(t, "e1")
			first := r.fetch(t, 1)
			if !d.Offer(first[0]) {
				t.Fatal("Offer refused")
			}
			testutil.WaitFor(t, 5*time.Second, "the first delivery settled", func() bool { return d.Held() == 0 && len(first[0].calls()) == 1 })
			if c := first[0].calls(); c[0] != tt.first {
				t.Fatalf("first delivery settled with %v, want %s", c, tt.first)
			}
			if tt.redeliver {
				again := r.fetch(t, 1)
				meta, err := again[0].Metadata()
				if err != nil {
					t.Fatal(err)
				}
				if meta.NumDelivered != 2 || again[0].id() != "e1" {
					t.Fatalf("redelivered %s as delivery %d, want e1's second", again[0].id(), meta.NumDelivered)
				}
				if !d.Offer(again[0]) {
					t.Fatal("Offer of the redelivery refused")
				}
				testutil.WaitFor(t, 5*time.Second, "the redelivery acked", func() bool { return settledOnce(again, "ack") })
				if at := drv.attempts("e1"); len(at) != 2 || !near(at[1].Sub(at[0]), 200*time.Millisecond) {
					t.Errorf("attempts %v, want two, 200ms apart", gaps(at))
				}
			}
			testutil.WaitFor(t, 5*time.Second, "nothing unsettled", func() bool { return r.unsettled(t) == 0 && d.Held() == 0 })
			recs := r.deadLetters(t)
			if tt.dlq == "" {
				if len(recs) != 0 {
					t.Errorf("dead letters %+v, want none", recs)
				}
				return
			}
			if len(recs) != 1 || recs[0].ID != "e1" || !strings.Contains(recs[0].Reason, tt.dlq) || recs[0].Attempts != 1 {
				t.Errorf("dead letters %+v, want e1's, reason ~%q, 1 attempt", recs, tt.dlq)
			}
		})
	}
}

// A pause holds offered messages at the gate, unsent and kept; Resume
// sends them. The pause outlasts a run's idle stop: the next run holds
// its messages too, and the counts go on.
func TestPushPauseSurvivesIdleStop(t *testing.T) {
	r := newPushRig(t)
	drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
	d, _ := r.start(t, drv, nil)
	r.publish(t, "p1", "p2")
	msgs := r.fetch(t, 2)
	base := runtime.NumGoroutine()

	d.Pause("held for the test")
	if !d.Offer(msgs[0]) {
		t.Fatal("Offer refused while paused")
	}
	// Three IdleStops: a run that ended (or sent) while holding shows.
	testutil.Holds(t, 3*pushIdle, "the paused message held, unsent", func() bool {
		return len(drv.attempts("p1")) == 0 && d.Held() == 1 && len(msgs[0].calls()) == 0
	})
	d.Resume()
	testutil.WaitFor(t, 5*time.Second, "p1 delivered on resume", func() bool { return settledOnce(msgs[:1], "ack") })

	d.Pause("held again")
	goroutinesBackTo(t, base, "idle stop while paused")
	if st := d.State(); st != dispatch.StatePaused {
		t.Fatalf("state %s after the idle stop, want paused", st)
	}
	if !d.Offer(msgs[1]) {
		t.Fatal("Offer refused while paused")
	}
	testutil.Holds(t, 3*pushIdle, "p2 held by the pause across runs", func() bool {
		return len(drv.attempts("p2")) == 0 && d.Held() == 1
	})
	d.Resume()
	testutil.WaitFor(t, 5*time.Second, "p2 delivered on resume", func() bool { return settledOnce(msgs, "ack") && d.Held() == 0 })
	if delivered, failed := d.Counts(); delivered != 2 || failed != 0 {
		t.Errorf("Counts %d delivered, %d failed; want 2, 0", delivered, failed)
	}
	if n := d.RunsStarted(); n != 2 {
		t.Errorf("%d runs, want 2 (one ended idle while paused)", n)
	}
}

// At the end of Start's context, messages held at the gate are handed
// back at once (a Nak with a nanosecond's delay, their handbacks
// recorded), wait returns, and Offer takes nothing more.
func TestPushStopHandsBackHeld(t *testing.T) {
	r := newPushRig(t)
	drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
	d, stop := r.start(t, drv, nil)
	r.publish(t, "h1", "h2", "h3")
	msgs := r.fetch(t, 3)
	base := runtime.NumGoroutine()
	d.Pause("held for the test")
	for _, m := range msgs { // two at the gate (concurrency 2), one waiting in the inbox
		if !d.Offer(m) {
			t.Fatalf("Offer(%s) refused", m.id())
		}
	}
	testutil.WaitFor(t, 5*time.Second, "the three held", func() bool { return d.Held() == 3 })
	stop()
	if !settledOnce(msgs, "nak 1ns") {
		for _, m := range msgs {
			t.Errorf("%s settled %v, want handed back once (nak 1ns)", m.id(), m.calls())
		}
	}
	if n := d.Held(); n != 0 {
		t.Errorf("Held %d after the stop, want 0", n)
	}
	if len(drv.attempts("h1"))+len(drv.attempts("h2"))+len(drv.attempts("h3")) != 0 {
		t.Error("a held message was attempted")
	}
	r.publish(t, "late")
	late := r.fetch(t, 4) // the three, redelivered at once, and the late one
	if d.Offer(late[0]) {
		t.Error("Offer taken after the stop")
	}
	for _, m := range late {
		if m.id() == "late" {
			continue
		}
		if _, err := r.state.Get(t.Context(), "handback.EVENTS.deliverer."+fmt.Sprint(mustSeq(t, m))); err != nil {
			t.Errorf("%s: no handback recorded: %v", m.id(), err)
		}
	}
	goroutinesBackTo(t, base, "after the stop")
}

func mustSeq(t *testing.T, m jetstream.Msg) uint64 {
	t.Helper()
	meta, err := m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return meta.Sequence.Stream
}

// AddSource (a replay) on an idle push-mode dispatcher starts a run, and
// the run lasts while the source does, however long it stays quiet.
func TestPushAddSourceKeepsTheRun(t *testing.T) {
	r := newPushRig(t)
	drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
	d, _ := r.start(t, drv, nil)
	replay, err := r.b.JS.CreateOrUpdateConsumer(t.Context(), "EVENTS", jetstream.ConsumerConfig{
		Durable: "replay", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	stopSource, err := d.AddSource(replay, nil)
	if err != nil {
		t.Fatalf("AddSource on an idle push-mode dispatcher: %v", err)
	}
	r.publish(t, "s1")
	testutil.WaitFor(t, 5*time.Second, "s1 delivered from the source", func() bool { return len(drv.attempts("s1")) == 1 })
	// Five IdleStops with the source quiet: a run that ended would leave
	// the next event undelivered.
	testutil.Holds(t, 5*pushIdle, "the run kept while its source lives", func() bool { return d.RunsStarted() == 1 })
	r.publish(t, "s2")
	testutil.WaitFor(t, 5*time.Second, "s2 delivered from the source", func() bool { return len(drv.attempts("s2")) == 1 })
	stopSource()
	goroutinesBackTo(t, base, "idle stop once the source ended")
	if n := d.RunsStarted(); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

// Offers landing while runs end idle are never lost: each is taken by the
// run ending or by a new one, and delivered once. Two deliverers offer
// one message at a time, each waiting until the last is settled and then
// a random while of up to four IdleStops (1ms), so that offers land
// before, during and after the idle stops of runs.
func TestPushIdleStopRacesOffer(t *testing.T) {
	for _, maxBatch := range []int{1, 4} {
		t.Run(fmt.Sprintf("batches of %d", maxBatch), func(t *testing.T) {
			r := newPushRig(t)
			drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
			const idle = time.Millisecond
			d, _ := r.start(t, drv, func(o *dispatch.Options) { o.IdleStop, o.MaxBatch = idle, maxBatch })
			const deliverers, each = 2, 300
			var ids []string
			for i := 0; i < deliverers*each; i++ {
				ids = append(ids, fmt.Sprintf("x%03d", i))
			}
			r.publish(t, ids...)
			msgs := r.fetch(t, len(ids))
			base := runtime.NumGoroutine()
			var wg sync.WaitGroup
			for w := 0; w < deliverers; w++ {
				mine := msgs[w*each : (w+1)*each]
				wg.Go(func() {
					for _, m := range mine {
						if !d.Offer(m) {
							t.Errorf("Offer(%s) refused", m.id())
							return
						}
						select {
						case <-m.settled:
						case <-time.After(5 * time.Second):
							t.Errorf("%s not settled", m.id())
							return
						}
						// A busy wait, not a sleep: a timer's granularity
						// would bunch the offers on the idle timer's ticks.
						for until := time.Now().Add(time.Duration(rand.Int64N(int64(4 * idle)))); time.Now().Before(until); {
							runtime.Gosched()
						}
					}
				})
			}
			wg.Wait()
			if !settledOnce(msgs, "ack") {
				t.Fatal("an offered message not acked exactly once")
			}
			for _, id := range ids {
				if n := len(drv.attempts(id)); n != 1 {
					t.Errorf("%s: %d attempts, want 1", id, n)
				}
			}
			if n := d.RunsStarted(); n < 10 {
				t.Errorf("only %d runs: the test did not make runs end between offers", n)
			}
			t.Logf("%d runs for %d offers", d.RunsStarted(), len(ids))
			goroutinesBackTo(t, base, "after the last idle stop")
		})
	}
}

// An armed, idle push-mode dispatcher owns no goroutine and little
// memory: thousands of shared sinks live in a gateway, most idle.
func TestPushIdleDispatcherCost(t *testing.T) {
	metrics := telemetry.NewMetrics()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	s := config.SinkDefaults(nil)
	s.Delivery, s.Concurrency = config.DeliveryShared, 4
	const n = 1000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("sink-%04d", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ds := make([]*dispatch.Dispatcher, 0, n)
	waits := make([]func(), 0, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	for i := 0; i < n; i++ {
		sc := s
		sc.Name = names[i]
		d := dispatch.New(dispatch.Options{Sink: sc, Driver: &gated{}, Metrics: metrics, Logger: log, IdleStop: time.Second})
		waits = append(waits, d.Start(ctx, time.Second))
		ds = append(ds, d)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("one armed idle push-mode dispatcher: %d B of heap, %d goroutines for %d", per, g1-g0, n)
	if g1 > g0 {
		t.Errorf("%d goroutines for %d idle dispatchers, want none", g1-g0, n)
	}
	if per > 5<<10 {
		t.Errorf("%d B per idle dispatcher, want at most 5 KiB", per)
	}
	cancel()
	for _, w := range waits {
		w()
	}
	runtime.KeepAlive(ds)
}

// An offered message held at the gate is kept alive (InProgress) past
// its consumer's AckWait, as a pulled one is: JetStream does not hand it
// to the deliverer again while the sink holds it.
func TestPushKeepsHeldMessagesAlive(t *testing.T) {
	r := newPushRig(t)
	cons, err := r.b.JS.CreateOrUpdateConsumer(t.Context(), "EVENTS", jetstream.ConsumerConfig{
		Durable: "deliverer", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.cons = cons
	drv := &scripted{script: func(string, int) error { return nil }, at: map[string][]time.Time{}}
	d, _ := r.start(t, drv, func(o *dispatch.Options) { o.KeepAlive = 300 * time.Millisecond })
	r.publish(t, "k1")
	msgs := r.fetch(t, 1)
	d.Pause("held for the test")
	if !d.Offer(msgs[0]) {
		t.Fatal("Offer refused")
	}
	// Two and a half AckWaits: a message not kept alive is redelivered to
	// this pull after one.
	b, err := r.cons.Fetch(1, jetstream.FetchMaxWait(2500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		meta, _ := m.Metadata()
		t.Fatalf("held message redelivered while the sink held it: %s, delivery %d", m.Headers().Get(event.HeaderMsgID), meta.NumDelivered)
	}
	d.Resume()
	testutil.WaitFor(t, 5*time.Second, "k1 delivered once", func() bool {
		return settledOnce(msgs, "ack") && len(drv.attempts("k1")) == 1 && r.unsettled(t) == 0
	})
}

// In push mode, a dead letter written after the sink's name went to
// another incarnation (Owner says so) is taken back, and the event is
// left to its consumer, not terminated: as with a dedicated sink.
func TestPushDeadLetterOfAReplacedSink(t *testing.T) {
	r := newPushRig(t)
	r.sink.Incarnation = "api-old"
	drv := &scripted{script: func(string, int) error { return sink.PermanentError(410, errors.New("gone")) }, at: map[string][]time.Time{}}
	d, _ := r.start(t, drv, func(o *dispatch.Options) {
		o.Owner = func(context.Context) error { return fmt.Errorf("sinks bucket: %w", bus.ErrSinkReplaced) }
	})
	r.publish(t, "old")
	msgs := r.fetch(t, 1)
	if !d.Offer(msgs[0]) {
		t.Fatal("Offer refused")
	}
	testutil.WaitFor(t, 5*time.Second, "the event let go", func() bool { return len(drv.attempts("old")) == 1 && d.Held() == 0 })
	if c := msgs[0].calls(); len(c) != 0 {
		t.Errorf("the replaced sink's event settled with %v, want left unsettled", c)
	}
	if recs := r.deadLetters(t); len(recs) != 0 {
		t.Errorf("dead letters %+v, want the replaced sink's taken back", recs)
	}
}

// A push run starts its workers as the offers need them: one event in
// hand costs one worker, not the sink's whole concurrency, and more
// events bring more workers up to it and no further.
func TestPushWorkersGrowWithTheOffersUpToTheConcurrency(t *testing.T) {
	r := newPushRig(t)
	drv := &gated{open: make(chan struct{})}
	base := runtime.NumGoroutine()
	d, _ := r.start(t, drv, func(o *dispatch.Options) { o.Sink.Concurrency = 4; o.Inbox = 16 })
	r.publish(t, "w0", "w1", "w2", "w3", "w4", "w5", "w6")
	msgs := r.fetch(t, 7)
	if !d.Offer(msgs[0]) {
		t.Fatal("Offer refused")
	}
	testutil.WaitFor(t, 5*time.Second, "the first at the driver", func() bool { return drv.sent("") == 1 })
	// The run: its keeper, its serve, its idle watch, and one worker.
	if n := runtime.NumGoroutine() - base; n > 4 {
		t.Errorf("one event in hand: %d goroutines more than before, want at most 4 (one worker)", n)
	}
	for _, m := range msgs[1:] {
		if !d.Offer(m) {
			t.Fatalf("Offer(%s) refused", m.id())
		}
	}
	testutil.WaitFor(t, 5*time.Second, "four at the driver at once", func() bool { return drv.sent("") == 4 })
	testutil.Holds(t, 200*time.Millisecond, "no fifth at once past concurrency 4", func() bool { return drv.sent("") == 4 })
	drv.release()
	testutil.WaitFor(t, 5*time.Second, "all seven settled", func() bool { return settledOnce(msgs, "ack") && d.Held() == 0 })
}
