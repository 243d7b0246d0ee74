package shared

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Target is a shared sink as the deliverer sees it.
type Target interface {
	// Room is how many more records the sink takes now: 0 while it is
	// paused or disabled, its breaker is open, or it holds all it may.
	Room() int
	// Offer hands a record to the sink's dispatcher, which settles it;
	// false: it did not take it.
	Offer(jetstream.Msg) bool
}

// Draining is a Target that can tell how soon it frees a place: a sink
// that is full but settling fast. Its records wait a moment for room
// rather than be parked: a park costs three writes and a read, and a
// sink draining a backlog at thousands a second would park most of it.
type Draining interface {
	// FreesWithin is how soon the sink is expected to take one more
	// record; 0: not soon (paused, breaker open, or not settling).
	FreesWithin() time.Duration
}

// A record waits for room at most holdFor, and only for a sink that frees
// a place within holdIf: the wait holds up the partition's other records
// behind it, so it is for a sink keeping up, not one that is slow.
const (
	holdIf  = 2 * time.Millisecond
	holdFor = 10 * time.Millisecond
)

// waitRoom waits a moment for t to have room, if it frees a place soon.
func (d *Deliverer) waitRoom(ctx context.Context, t Target) bool {
	dt, ok := t.(Draining)
	if !ok {
		return false
	}
	if w := dt.FreesWithin(); w <= 0 || w > holdIf {
		return false
	}
	deadline := time.Now().Add(holdFor)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if t.Room() > 0 {
			return true
		}
		time.Sleep(100 * time.Microsecond)
	}
	return false
}

// Sinks finds the shared sink of an incarnation.
type Sinks interface {
	SharedTarget(incarnation string) (Target, bool)
}

// Deliverer reads the deliveries stream through one durable consumer per
// partition and offers each record to its sink. A record its sink cannot
// take now is parked on the sink's own subject, where it holds no slot of
// the shared consumers; the deliverer moves parked records back when the
// sink has room again.
type Deliverer struct {
	Conn  *nats.Conn
	Sinks Sinks
	Log   *slog.Logger
	// AckWait of the delivery consumers: how long a record handed to a
	// sink may go unsettled before JetStream gives it to another replica
	// (the dispatcher keeps the records it holds alive). Zero:
	// DefaultAckWait.
	AckWait time.Duration
	// MaxAckPending of each delivery consumer; zero: 10,000.
	MaxAckPending int
	// Batch is how many records one pull asks for; zero: 256.
	Batch int
	// Current, when set, says whether this replica runs every sink
	// created (through any replica) before it was called (the Matcher's).
	// A record of an incarnation this replica does not know is taken for
	// a deleted sink's only once it does: while its sinks load (after a
	// restart, or behind a slow watch) the record comes back, however
	// often it was delivered before.
	Current func(ctx context.Context) (bool, error)

	js     jetstream.JetStream
	stream jetstream.Stream
	mu     sync.Mutex
	parked map[string]bool // incarnations with parked records, as far as this replica knows
	// behindAt is when Current last said this replica's sinks are not
	// current.
	behindAt time.Time
	// woken are parked incarnations whose sinks gave room back since the
	// unparker last looked (Wake); wake tells the unparker there are some.
	woken map[string]bool
	wake  chan struct{}
}

// Wake tells the deliverer that the sink of incarnation inc has room
// again, a record of it settled: its parked records move back now, not
// at the unparker's next look, which would bound a busy parked sink to an
// inbox per look. Cheap, never blocks: called for every settled record.
func (d *Deliverer) Wake(inc string) {
	d.mu.Lock()
	if !d.parked[inc] || d.woken[inc] {
		d.mu.Unlock()
		return
	}
	d.woken[inc] = true
	wake := d.wake
	d.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
}

// DefaultAckWait is the delivery consumers' ack wait unless set.
const DefaultAckWait = 30 * time.Second

// unknownTries is how often a record of an incarnation this replica does
// not know comes back before it is taken for a deleted sink's: a sink
// created through another replica is known here within moments.
const unknownTries = 20

// unknownWait is how long a record of an unknown incarnation waits while
// this replica's sinks are not current; a "not current" answer is reused
// for as long, so a burst of such records costs one question.
const unknownWait = 2 * time.Second

// current says whether this replica's sinks are current (Current), asking
// at most once per unknownWait while they are not.
func (d *Deliverer) current(ctx context.Context) bool {
	if d.Current == nil {
		return true
	}
	d.mu.Lock()
	behind := !d.behindAt.IsZero() && time.Since(d.behindAt) < unknownWait
	d.mu.Unlock()
	if behind {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	ok, err := d.Current(cctx)
	cancel()
	if ok && err == nil {
		return true
	}
	d.mu.Lock()
	d.behindAt = time.Now()
	d.mu.Unlock()
	return false
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	log := d.Log.With("component", "deliverer")
	d.mu.Lock()
	d.parked, d.woken, d.wake = map[string]bool{}, map[string]bool{}, make(chan struct{}, 1)
	d.mu.Unlock()
	var err error
	if d.js, err = jetstream.New(d.Conn); err != nil {
		log.Error("deliverer not started", "err", err)
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d.stream, err = d.js.Stream(cctx, event.DeliveriesStream)
		cancel()
		if err == nil {
			break
		}
		log.Error("deliveries stream not ready; trying again", "err", err, "retry_in", wait)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	var wg sync.WaitGroup
	for p := 0; p < subject.SharedPartitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.pull(ctx, p, log)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.unparkLoop(ctx, log)
	}()
	wg.Wait()
}

// EnsureConsumer creates or updates partition p's delivery consumer.
func (d *Deliverer) EnsureConsumer(ctx context.Context, js jetstream.JetStream, p int) (jetstream.Consumer, error) {
	ackWait := d.AckWait
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	pending := d.MaxAckPending
	if pending <= 0 {
		pending = 10000
	}
	c, err := js.CreateOrUpdateConsumer(ctx, event.DeliveriesStream, jetstream.ConsumerConfig{
		Durable:       subject.DeliverConsumer(p),
		Description:   "Switchyard shared delivery: partition " + strconv.Itoa(p) + " of the shared sinks' records",
		FilterSubject: subject.DuePartition(p),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		// Unlimited: Switchyard ends each delivery by its own count.
		MaxDeliver:    -1,
		MaxAckPending: pending,
		MaxWaiting:    512,
	})
	if err != nil {
		return nil, fmt.Errorf("shared: delivery consumer %d: %w", p, err)
	}
	return c, nil
}

func (d *Deliverer) pull(ctx context.Context, p int, log *slog.Logger) {
	var cons jetstream.Consumer
	var err error
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err = d.EnsureConsumer(cctx, d.js, p)
		cancel()
		if err == nil {
			break
		}
		log.Error("delivery consumer not ready; trying again", "partition", p, "err", err, "retry_in", wait)
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	batch := d.Batch
	if batch <= 0 {
		batch = 256
	}
	for ctx.Err() == nil {
		b, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("delivery pull", "partition", p, "err", err)
				sleepCtx(ctx, 250*time.Millisecond)
			}
			continue
		}
		for m := range b.Messages() {
			d.route(ctx, m, log)
		}
		if err := b.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
			log.Warn("delivery pull", "partition", p, "err", err)
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if c, err := d.EnsureConsumer(cctx, d.js, p); err == nil {
					cons = c
				}
				cancel()
			}
		}
	}
}

// route offers one record to its sink, or parks it.
func (d *Deliverer) route(ctx context.Context, m jetstream.Msg, log *slog.Logger) {
	r := NewRecord(d.js, m)
	t, ok := d.Sinks.SharedTarget(r.Incarnation())
	if !ok {
		d.unknown(ctx, r, log)
		return
	}
	if t.Room() > 0 && t.Offer(r) {
		return
	}
	if d.waitRoom(ctx, t) && t.Offer(r) {
		return
	}
	d.park(ctx, r, log)
}

// unknown settles a record whose sink this replica does not know: a sink
// just created through another replica soon is, so the record comes back
// a few times before it is taken for a deleted sink's (whose records the
// delete purged, all but those handed on while it was deleted).
func (d *Deliverer) unknown(ctx context.Context, r *Record, log *slog.Logger) {
	meta, err := r.msg.Metadata()
	if err == nil && meta.NumDelivered < unknownTries {
		_ = r.msg.NakWithDelay(time.Duration(meta.NumDelivered) * 250 * time.Millisecond)
		return
	}
	if !d.current(ctx) {
		_ = r.msg.NakWithDelay(unknownWait)
		return
	}
	log.Warn("record of a sink that no longer exists: dropped", "sink_incarnation", r.Incarnation(),
		"event_id", r.msg.Headers().Get(event.HeaderEventID))
	_ = r.msg.Ack()
}

// park moves a record its sink cannot take now to the sink's parked
// subject, its attempts so far carried over (this delivery made none), and
// acks it once the parked copy is stored. The publish is not waited for
// here: a burst for a full sink would otherwise cost its partition a
// round trip per record, every other sink of the partition waiting.
// Should the copy not be stored, the record comes back.
func (d *Deliverer) park(ctx context.Context, r *Record, log *slog.Logger) {
	fail := func(err error) {
		log.Warn("record not parked; it comes back", "sink_incarnation", r.Incarnation(), "err", err)
		_ = r.msg.NakWithDelay(time.Second)
	}
	meta, err := r.msg.Metadata()
	if err != nil {
		fail(err)
		return
	}
	h := cloneHeader(r.msg.Headers())
	h.Set(HeaderAttempts, strconv.FormatUint(r.attempts+meta.NumDelivered-1, 10))
	h.Set(event.HeaderMsgID, r.Incarnation()+":k"+strconv.FormatUint(meta.Sequence.Stream, 10))
	f, err := d.js.PublishMsgAsync(&nats.Msg{Subject: subject.Parked(r.Incarnation()), Header: h, Data: r.msg.Data()})
	if err != nil {
		fail(err)
		return
	}
	go func() {
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-f.Ok():
		case err := <-f.Err():
			fail(err)
			return
		case <-t.C:
			fail(errors.New("no answer from the deliveries stream"))
			return
		case <-ctx.Done():
			return // unacked: the record comes back after the ack wait
		}
		d.mu.Lock()
		d.parked[r.Incarnation()] = true
		d.mu.Unlock()
		_ = r.msg.Ack()
	}()
}
