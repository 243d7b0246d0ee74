// Package dispatch runs one sink: it pulls the sink's durable consumers
// (and, through AddSource, a replay's) within a window of credits,
// batches, calls the driver and settles every message explicitly — Ack,
// NakWithDelay on the retry schedule, or Term after a dead letter is
// safely stored. Between pull and send stands the gate: a pause, the
// circuit breaker and the rate limit; an ordered sink keeps one event per
// ordering key in flight (lanes). The dispatcher keeps every message it
// holds alive past AckWait (keeper), counts the deliveries it hands back
// unattempted so attempt numbers stay true (Handbacks), reports the
// sink's state and what degrades it, publishes each change on
// StateSubject, pauses only consumers still its incarnation's, and traces
// each delivery.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/subject"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Options wires a Dispatcher.
type Options struct {
	Sink   config.Sink
	Driver sink.Driver
	// MaxBatch is the most events one Send takes: the sink's batch size
	// (sink.Registry.BatchSize). Zero: 1.
	MaxBatch  int
	JS        jetstream.JetStream
	Consumers []jetstream.Consumer // the sink's events consumer and its redrive consumer
	DLQ       *deadletter.Store
	Attempts  *attempts.Log // nil: no attempt log
	Metrics   *telemetry.Metrics
	Logger    *slog.Logger
	// Recreate brings back the sink's own consumers if JetStream loses
	// them; nil: a lost consumer ends its source.
	Recreate Recreate
	// Handbacks keeps count of deliveries handed back unattempted, so
	// that only real attempts spend the retry budget; nil: every delivery
	// counts as an attempt.
	Handbacks *Handbacks
	// Share is how many replicas deliver for the sink now: its rate_limit
	// is for the sink as a whole, so each keeps to rate/Share(). Called
	// once per delivery, so it must be cheap (an atomic load). nil: 1.
	Share func() int
	// TracerProvider makes the spans of delivery attempts; nil: the
	// process's, as installed when New is called.
	TracerProvider trace.TracerProvider
	// IdleStop > 0 with no Consumers selects push mode (see Start): the
	// dispatcher gets its messages from Offer, and its run ends once it
	// has been idle this long.
	IdleStop time.Duration
	// Inbox bounds how many offered messages the dispatcher holds
	// unsettled (push mode); 0: its window.
	Inbox int
	// KeepAlive is how often the messages the dispatcher holds are told
	// in progress; 0: a third of the sink's AckWait, the AckWait of its
	// own consumers. In push mode the messages are the deliverer's, on
	// its consumers' AckWait: a third of that, or less.
	KeepAlive time.Duration
	// Owner, in push mode, is asked after a dead letter is written whether
	// the sink's name is still this incarnation's: bus.ErrSinkReplaced if
	// not (see deadletter.Input.Owner). A dispatcher with consumers asks
	// its events consumer instead. nil: not asked.
	Owner func(ctx context.Context) error
	// Freed, in push mode, is called each time an offered message gives
	// its place in the inbox back (settled, or handed back): whoever holds
	// the sink's messages back for want of room can offer more at once,
	// rather than at its next look. It must not block. nil: not called.
	Freed func()
}

// Dispatcher delivers one sink's events.
type Dispatcher struct {
	opts     Options
	log      *slog.Logger
	maxBatch int
	spanName string
	tracer   trace.Tracer // nil: tracing off
	// apiPrefix is the JetStream API's subject prefix, for pull requests.
	apiPrefix string
	hot       hotMetrics
	prepared  bool // hot (and ready) made: see prepareLocked
	status    Status
	inFlight  atomic.Int64
	gate      *gate
	// Counters for status: attempts that delivered and that failed.
	delivered, failed atomic.Uint64

	// Sources: the consumers being pulled, fed into msgs while running.
	src      sync.Mutex
	msgs     chan jetstream.Msg
	runCtx   context.Context
	sources  map[*source]bool
	stopping bool
	pullers  sync.WaitGroup
	pulling  int // pullers not yet ended, for the idle stop
	keep     *keeper
	// push is the push mode's state (see Start); nil in pull mode.
	push *pushState

	// Hand-backs at shutdown wait until the pulls are closed (see
	// release): until then, released messages are kept here.
	relMu      sync.Mutex
	pullsShut  bool
	toHandBack []jetstream.Msg

	// Dead letters waiting for the dead-letter store to work again.
	holders    sync.WaitGroup
	held       atomic.Int64
	hardCtx    context.Context
	degradedMu sync.Mutex
	degraded   map[string]string // cause → reason

	timerMu  sync.Mutex
	coolDown *time.Timer // the breaker's pending "cool-down over" announcement

	// Ordered drivers: one event per key in flight, in stream order.
	ordered sink.Ordered
	lanes   *lanes
	ready   chan jetstream.Msg // lanes' next heads, back into batching
}

// Counts returns how many attempts delivered and how many failed since start.
func (d *Dispatcher) Counts() (delivered, failed uint64) { return d.delivered.Load(), d.failed.Load() }

// Status is what the admin API shows of a sink's recent history.
type Status struct {
	mu          sync.Mutex
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
	// FailingSince is the first failure since the last success (zero
	// while deliveries succeed): how long the destination has been down.
	FailingSince time.Time
}

// New builds a dispatcher; Run starts it.
func New(opts Options) *Dispatcher {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dispatcher{
		opts:     opts,
		log:      opts.Logger.With("sink", opts.Sink.Name),
		maxBatch: max(opts.MaxBatch, 1),
		keep:     &keeper{freed: opts.Freed},
		spanName: "deliver " + opts.Sink.Name,
		tracer:   newTracer(opts.TracerProvider),
		degraded: map[string]string{},
	}
	lazy := opts.IdleStop > 0 && len(opts.Consumers) == 0
	if !lazy {
		// A push-mode dispatcher, idle most of its life, resolves these
		// only when it first runs (prepareLocked).
		d.prepared = true
		d.hot = resolveHotMetrics(opts.Metrics, opts.Sink.Name)
	}
	if opts.JS != nil {
		d.apiPrefix = apiPrefix(opts.JS)
	}
	d.gate = newGate(opts.Sink, d.maxBatch, d.stateChanged)
	if d.gate.limiter != nil {
		d.gate.limiter.share = opts.Share
	}
	if o, ok := opts.Driver.(sink.Ordered); ok && o.Ordering() {
		d.ordered, d.lanes = o, newLanes()
		if !lazy {
			d.ready = make(chan jetstream.Msg, max(opts.Sink.MaxAckPending, 1024))
		}
	}
	return d
}

// prepareLocked makes, on a push-mode dispatcher's first run, what New
// leaves out for it: the sink's hot metrics and the ordered driver's ready
// channel. Called with src held, before the run's goroutines start.
func (d *Dispatcher) prepareLocked() {
	if d.prepared {
		return
	}
	d.prepared = true
	d.hot = resolveHotMetrics(d.opts.Metrics, d.opts.Sink.Name)
	if d.lanes != nil {
		d.ready = make(chan jetstream.Msg, max(d.opts.Sink.MaxAckPending, 1024))
	}
}

// Snapshot returns the sink's last success and last error.
func (d *Dispatcher) Snapshot() (lastSuccess time.Time, lastErr string, lastErrAt time.Time) {
	d.status.mu.Lock()
	defer d.status.mu.Unlock()
	return d.status.LastSuccess, d.status.LastError, d.status.LastErrorAt
}

// FailingSince is when the current run of failures began, with no
// success since; zero while the sink delivers.
func (d *Dispatcher) FailingSince() time.Time {
	d.status.mu.Lock()
	defer d.status.mu.Unlock()
	return d.status.FailingSince
}

// InFlight is how many events are being delivered now.
func (d *Dispatcher) InFlight() int64 { return d.inFlight.Load() }

// Run delivers until ctx is done, then stops pulling and gives in-flight
// deliveries until grace to finish; whatever is still running then is
// canceled and handed back to JetStream with a Nak, so another replica or
// the next start delivers it.
func (d *Dispatcher) Run(ctx context.Context, grace time.Duration) error {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	defer d.setCoolDownTimer(nil) // nothing announced after the dispatcher stopped

	d.hardCtx = hard
	d.src.Lock()
	d.prepareLocked()
	d.src.Unlock()
	go d.keep.run(hard, d.keepEvery())
	msgs := make(chan jetstream.Msg)
	d.src.Lock()
	d.msgs, d.runCtx = msgs, ctx
	d.src.Unlock()
	for _, c := range d.opts.Consumers {
		if _, err := d.addSource(c, nil, d.opts.Recreate, d.opts.Sink.Incarnation); err != nil {
			d.stopSources()
			return err
		}
	}
	ended := make(chan struct{})
	go func() {
		<-ctx.Done()
		d.stopSources()
		d.pullsClosed()
		close(msgs)
		close(ended)
	}()
	d.serve(ctx, hard, cancelHard, grace, inputs{msgs: msgs, ended: ended})
	return nil
}

// keepEvery is how often the keeper tells JetStream that held messages
// are in progress: well within AckWait.
func (d *Dispatcher) keepEvery() time.Duration {
	if d.opts.KeepAlive > 0 {
		return d.opts.KeepAlive
	}
	return max(d.opts.Sink.AckWait.D/3, 50*time.Millisecond)
}

// inputs are what one run of the workers takes messages from, and how it
// ends.
type inputs struct {
	msgs    chan jetstream.Msg // from the sources' pullers; closed to end the run
	offered chan jetstream.Msg // from Offer (push mode); nil in pull mode
	ended   <-chan struct{}    // closed once msgs is
	// watch, if set, runs beside the workers until the run ends: the
	// push mode's idle stop.
	watch func()
	// shutdown reports, once msgs is closed, whether the run ended with
	// the dispatcher (grace, hand-backs) rather than idle; nil: it did.
	shutdown func() bool
	// crew, in push mode, starts the workers as the offers need them.
	crew *crew
}

// serve feeds the workers from in until in.msgs is closed. At a shutdown
// it then gives the deliveries in flight until grace to finish, cancels
// hard for the rest, and hands back what still waits; a run that ended
// idle holds nothing, and only waits for its workers.
func (d *Dispatcher) serve(ctx, hard context.Context, cancelHard context.CancelFunc, grace time.Duration, in inputs) {
	msgs, offered := in.msgs, in.offered
	var workers sync.WaitGroup
	if d.maxBatch > 1 {
		batches := make(chan []jetstream.Msg)
		for i := 0; i < d.opts.Sink.Concurrency; i++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				for b := range batches {
					d.work(ctx, hard, b)
				}
			}()
		}
		if in.watch != nil {
			workers.Go(in.watch)
		}
		d.batch(msgs, offered, batches)
		close(batches)
	} else {
		// Events go one at a time: each worker takes its next event itself
		// (a batcher in between would cost a channel hop and a goroutine
		// switch per event). A push run's crew starts its workers itself.
		if in.crew == nil {
			for i := 0; i < d.opts.Sink.Concurrency; i++ {
				workers.Add(1)
				go func() {
					defer workers.Done()
					d.worker(ctx, hard, msgs, offered, nil)
				}()
			}
		}
		if in.watch != nil {
			in.watch()
		}
		<-in.ended // what the batcher waits for; the grace below bounds the workers
	}
	if in.shutdown != nil && !in.shutdown() {
		in.crew.wait()
		workers.Wait()
		return
	}
	defer d.releaseLanes()
	defer d.releaseOffered(offered)

	done := make(chan struct{})
	// A push run's crew's workers are waited for within the grace, as
	// the others: waited for before it, a delivery in flight at the stop
	// ran to its timeout, its record neither settled nor handed back.
	go func() { in.crew.wait(); workers.Wait(); d.holders.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		d.log.Warn("grace period over: canceling deliveries in flight", "in_flight", d.inFlight.Load())
		cancelHard()
		<-done
	}
}

// Accept decides, for a source, whether a message is delivered; the
// others are acked unseen. A replay uses it to keep to its time range and
// event types.
type Accept func(jetstream.Msg, *jetstream.MsgMetadata) bool

// AddSource makes the running dispatcher deliver from one more consumer,
// through the same batching, gate, driver and settling as the sink's own.
// stop ends the source; Run's shutdown ends every source.
func (d *Dispatcher) AddSource(c jetstream.Consumer, accept Accept) (stop func(), err error) {
	return d.addSource(c, accept, nil, "")
}

func (d *Dispatcher) addSource(c jetstream.Consumer, accept Accept, recreate Recreate, incarnation string) (stop func(), err error) {
	d.src.Lock()
	defer d.src.Unlock()
	if d.push != nil && !d.stopping {
		if r := d.runLocked(); r.crew != nil { // an idle push-mode dispatcher runs again
			r.crew.fill()
		}
	}
	if d.msgs == nil || d.stopping {
		return nil, errors.New("dispatcher not running")
	}
	src := newSource(c, accept, recreate, d.window())
	if incarnation != "" {
		src.incarnation, src.group = incarnation, bus.IncarnationGroup(incarnation)
	}
	if d.sources == nil {
		d.sources = map[*source]bool{}
	}
	d.sources[src] = true
	d.pullers.Add(1)
	d.pulling++
	ctx, out := d.runCtx, d.msgs // a push-mode dispatcher's msgs is its run's
	go func() {
		defer d.pullers.Done()
		d.pull(ctx, src, out)
		d.src.Lock()
		d.pulling--
		d.src.Unlock()
	}()
	return func() {
		d.src.Lock()
		defer d.src.Unlock()
		delete(d.sources, src)
		src.halt()
	}, nil
}

// window is how many messages one source may hold unsettled: enough for
// every worker to have a batch in hand and the next one ready.
func (d *Dispatcher) window() int { return max(2, 2*d.opts.Sink.Concurrency*d.maxBatch) }

// stopSources stops every source and waits for the pullers; what their
// last pulls bring is still handed out and given back by the workers.
func (d *Dispatcher) stopSources() {
	d.src.Lock()
	d.stopping = true
	for src := range d.sources {
		src.halt()
	}
	d.sources = nil
	d.src.Unlock()
	d.pullers.Wait()
}

// batch groups messages, from the pullers (in) and from Offer (offered,
// nil in pull mode), up to the driver's batch size, waiting at most
// MaxWait for a batch to fill. It ends when in is closed.
func (d *Dispatcher) batch(in, offered <-chan jetstream.Msg, out chan<- []jetstream.Msg) {
	for {
		var first jetstream.Msg
		select {
		case m, ok := <-in:
			if !ok {
				return
			}
			first = m
		case m := <-offered:
			first = m
		case m := <-d.ready: // nil, never ready, unless the driver orders
			first = m
		}
		b := []jetstream.Msg{first}
		if d.maxBatch > 1 {
			timer := time.NewTimer(d.opts.Sink.Batch.MaxWait.D)
		fill:
			for len(b) < d.maxBatch {
				select {
				case m, ok := <-in:
					if !ok {
						break fill
					}
					b = append(b, m)
				case m := <-offered:
					b = append(b, m)
				case m := <-d.ready:
					b = append(b, m)
				case <-timer.C:
					break fill
				}
			}
			timer.Stop()
		}
		out <- b
	}
}

// pullsClosed hands back what the workers released while the sources
// stopped, now that their pulls are closed. A hand-back's Nak makes
// JetStream redeliver at once, to any pull still open for the consumer:
// sent to one of this dispatcher's own, the redelivery would go to a
// source that takes nothing more, and come back only after AckWait,
// without its handback record, counted as an attempt. A puller ends only
// once its last pull has ended at the server (run to its end, or drained:
// see pull.go), so the server serves it no more.
func (d *Dispatcher) pullsClosed() {
	d.relMu.Lock()
	d.pullsShut = true
	b := d.toHandBack
	d.toHandBack = nil
	d.relMu.Unlock()
	d.handBackNow(b)
}

// work delivers one batch, or hands it back unattempted once ctx ended.
func (d *Dispatcher) work(ctx, hard context.Context, b []jetstream.Msg) {
	if ctx.Err() != nil {
		d.release(b)
		return
	}
	d.deliver(ctx, hard, b)
}

// release hands messages back unattempted during shutdown, their
// handbacks recorded so that the redeliveries are not taken for attempts.
// While the sources' pulls may still be open, the messages are kept (and
// kept alive) until pullsClosed hands them back: the worker goes on, as
// the pullers need the workers to take what their last pulls brought.
func (d *Dispatcher) release(b []jetstream.Msg) {
	d.relMu.Lock()
	if !d.pullsShut {
		d.toHandBack = append(d.toHandBack, b...)
		d.relMu.Unlock()
		return
	}
	d.relMu.Unlock()
	d.handBackNow(b)
}

func (d *Dispatcher) handBackNow(b []jetstream.Msg) {
	if len(b) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.handBack(ctx, b)
}

// delivery is one message on its way: the event it carries and its
// attempt (its deliveries less those handed back unattempted).
type delivery struct {
	msg      jetstream.Msg
	ev       *event.Event
	attempt  int
	meta     *jetstream.MsgMetadata
	handback handback // the message's handback record, if it has one
}

// deliver attempts one batch. soft ends with shutdown: a batch still
// waiting at the gate then goes back unattempted; hard ends after the
// grace period and interrupts sends.
func (d *Dispatcher) deliver(soft, hard context.Context, b []jetstream.Msg) {
	ctx := hard // settling and sending end only after the grace period
	st := newSendState(len(b))
	ds := st.ds
	for i, m := range b {
		meta := &st.metas[i]
		if err := metadataInto(m, meta); err != nil {
			// Not a JetStream message: nothing to settle against.
			d.log.Error("message without metadata", "err", err, "subject", m.Subject())
			d.keep.done(m)
			continue
		}
		hb, err := d.opts.Handbacks.lookup(ctx, meta)
		if err != nil {
			d.log.Warn("handbacks not read: every delivery counts as an attempt", "stream_seq", meta.Sequence.Stream, "err", err)
		}
		attempt := int(meta.NumDelivered - hb.skipped)
		ev, err := event.FromMessage(event.Message{
			Subject: m.Subject(), Header: m.Headers(), Data: m.Data(),
			Stream: meta.Stream, Sequence: meta.Sequence.Stream, Published: meta.Timestamp,
		}, subject.EventsPrefix)
		if err != nil {
			d.deadLetter(ctx, delivery{msg: m, meta: meta, attempt: attempt, handback: hb}, err.Error(), 0, "malformed")
			continue
		}
		x := delivery{msg: m, ev: ev, attempt: attempt, meta: meta, handback: hb}
		if budget := d.opts.Sink.Retry.Attempts(); x.attempt > budget+1 {
			// Delivered more often than the budget allows: the retry
			// schedule was shortened (a reload, a restart, a replica with
			// another config) while it waited, or the gateway stopped or
			// died during earlier attempts. JetStream's MaxDeliver is
			// unlimited, so Switchyard's own count ends it, with a reason.
			d.deadLetter(ctx, x, fmt.Sprintf("delivered %d times, beyond the retry budget of %d attempts: the retry schedule was shortened, or the gateway stopped during earlier attempts", x.attempt, budget), 0, "budget_exceeded")
			continue
		}
		ds = append(ds, x)
	}
	if len(ds) == 0 {
		return
	}
	events := st.events[:len(ds)]
	for i, x := range ds {
		events[i] = x.ev
	}

	// The keeper covers the wait at the gate too: a paused sink or an
	// open breaker can hold a batch for long, and holding is not an attempt.
	probe, err := d.gate.wait(soft, len(ds))
	if err != nil {
		msgs := make([]jetstream.Msg, len(ds))
		for i, x := range ds {
			msgs[i] = x.msg
		}
		d.release(msgs)
		return
	}
	d.inFlight.Add(int64(len(ds)))
	d.hot.inFlight.Add(float64(len(ds)))
	st.answers = st.answers[:len(ds)]
	answers := st.answers
	spans := st.spans[:len(ds)]
	for i, x := range ds {
		spans[i] = d.startSpan(x)
	}
	start := time.Now()
	err = sink.SendObserved(ctx, d.opts.Driver, events, st.observe)
	elapsed := time.Since(start)
	d.gate.record(probe, verdictOf(err, len(ds)))
	d.inFlight.Add(-int64(len(ds)))
	d.hot.inFlight.Sub(float64(len(ds)))
	d.hot.sendDuration.Observe(elapsed.Seconds())

	st.mu.Lock()
	defer st.mu.Unlock()
	for i, x := range ds {
		ierr := sink.ErrorFor(err, i)
		outcome := d.settle(ctx, x, ierr)
		d.recordAttempt(x, start, elapsed, outcome, ierr, answers[i])
		endSpan(spans[i], outcome, answers[i].status, ierr)
	}
}

// sendState is what one Send of a batch needs beside the messages. A batch
// of one (every webhook delivery) gets it in one allocation rather than
// six: it lives as long as its event is in flight.
type sendState struct {
	mu      sync.Mutex // the driver may answer from its own goroutines
	ds      []delivery
	events  []*event.Event
	answers []answer
	spans   []trace.Span
	metas   []jetstream.MsgMetadata // the deliveries' meta point here
	one     struct {
		d [1]delivery
		e [1]*event.Event
		a [1]answer
		s [1]trace.Span
		m [1]jetstream.MsgMetadata
	}
}

func newSendState(n int) *sendState {
	st := &sendState{}
	if n == 1 {
		st.ds, st.events, st.answers, st.spans, st.metas = st.one.d[:0], st.one.e[:], st.one.a[:], st.one.s[:], st.one.m[:]
		return st
	}
	st.ds, st.events, st.answers, st.spans = make([]delivery, 0, n), make([]*event.Event, n), make([]answer, n), make([]trace.Span, n)
	st.metas = make([]jetstream.MsgMetadata, n)
	return st
}

// observe records what the destination answered to event i.
func (st *sendState) observe(i, status int, body []byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i >= 0 && i < len(st.answers) {
		st.answers[i] = answer{status: status, body: body}
	}
}

// answer is what the destination said to one event, when the driver tells.
type answer struct {
	status int
	body   []byte
}

func (d *Dispatcher) recordAttempt(x delivery, start time.Time, took time.Duration, outcome string, err error, a answer) {
	if d.opts.Attempts == nil {
		return
	}
	r := attempts.Record{EventID: x.ev.ID, Sink: d.opts.Sink.Name, Type: x.ev.Type, Tenant: x.ev.Tenant, Attempt: x.attempt, Time: start.UTC(),
		DurationMS: float64(took.Microseconds()) / 1000, Outcome: outcome, Status: a.status, Response: string(a.body),
		Stream: x.meta.Stream, StreamSeq: x.meta.Sequence.Stream, TraceID: traceID(x.ev.TraceParent)}
	// A shared delivery record is a copy, gone once settled: the log
	// points at the event itself, in the events stream.
	if s, n, ok := shared.EventAt(x.msg.Headers()); ok && event.Trusted(x.meta.Stream) {
		r.Stream, r.StreamSeq = s, n
	}
	r.Incarnation = d.opts.Sink.Incarnation
	if err != nil {
		r.Error = err.Error()
		if r.Status == 0 {
			r.Status = sink.Classify(err).Status
		}
	}
	if rerr := d.opts.Attempts.Record(r); rerr != nil {
		d.log.Warn("attempt not logged", "event_id", x.ev.ID, "err", rerr)
	}
}

// verdictOf sums up a Send for the gate: any delivered event means the
// destination works; otherwise the first failure's class decides.
func verdictOf(err error, n int) verdict {
	if err == nil {
		return verdictHealthy
	}
	var first error
	for i := 0; i < n; i++ {
		e := sink.ErrorFor(err, i)
		if e == nil {
			return verdictHealthy
		}
		if first == nil {
			first = e
		}
	}
	switch sink.Classify(first).Class {
	case sink.Retryable:
		return verdictFailing
	case sink.RateLimited:
		return verdictRateLimited
	}
	return verdictNeutral
}

// worker delivers events one at a time until msgs is closed; idle, when
// set, counts it while it waits for one.
func (d *Dispatcher) worker(ctx, hard context.Context, msgs, offered <-chan jetstream.Msg, idle *atomic.Int32) {
	for {
		var one [1]jetstream.Msg
		if idle != nil {
			idle.Add(1)
		}
		select {
		case m, ok := <-msgs:
			if !ok {
				if idle != nil {
					idle.Add(-1)
				}
				return
			}
			one[0] = m
		case m := <-offered: // nil, never ready, unless in push mode
			one[0] = m
		case m := <-d.ready: // nil, never ready, unless the driver orders
			one[0] = m
		}
		if idle != nil {
			idle.Add(-1)
		}
		d.work(ctx, hard, one[:])
	}
}
