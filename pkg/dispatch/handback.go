package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Handbacks remembers, per message, how many of its deliveries were handed
// back unattempted: pulled, then given back with a Nak when its dispatcher
// stopped (a reload of the sink, a restart) while it waited to be batched,
// at the gate (a pause, an open breaker, the rate limiter) or behind its
// ordering key. JetStream counts every delivery in NumDelivered and
// cannot be told to take one back, so a delivery's attempt number is
// NumDelivered less the handbacks recorded here; without it, a sink held
// at the gate across a few reloads would give up on its events before
// their first real attempts.
//
// A record lives in the state bucket under
// handback.<stream>.<consumer>.<stream seq> from the first handback of a
// message until it is settled for good (Ack or Term): only messages
// handed back meanwhile have one, and only a redelivery (NumDelivered > 1)
// looks, so a first delivery costs nothing. A record is removed with a
// purge of its subject, which leaves no delete marker, so records do not
// pile up in the bucket.
type Handbacks struct {
	kv jetstream.KeyValue
	st jetstream.Stream // the bucket's stream, to remove records outright
}

// NewHandbacks keeps handback records in kv (the state bucket).
func NewHandbacks(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) (*Handbacks, error) {
	st, err := js.Stream(ctx, "KV_"+kv.Bucket())
	if err != nil {
		return nil, fmt.Errorf("dispatch: handbacks: %w", err)
	}
	return &Handbacks{kv: kv, st: st}, nil
}

const handbackPrefix = "handback."

func handbackKey(meta *jetstream.MsgMetadata) string {
	return handbackPrefix + subject.Token(meta.Stream) + "." + subject.Token(meta.Consumer) + "." + strconv.FormatUint(meta.Sequence.Stream, 10)
}

// handback is a record: skipped deliveries of the message, as of its
// delivery number delivered and consumer sequence cseq. The last two tell
// a record of this consumer's from one a deleted consumer of the same
// name left: they only grow while the consumer lives.
type handback struct {
	skipped, delivered, cseq uint64
	rev                      uint64 // the record's revision; 0: none
}

func (h handback) value() []byte {
	return fmt.Appendf(nil, "%d %d %d", h.skipped, h.delivered, h.cseq)
}

func parseHandback(b []byte) (handback, bool) {
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return handback{}, false
	}
	var v [3]uint64
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return handback{}, false
		}
		v[i] = n
	}
	return handback{skipped: v[0], delivered: v[1], cseq: v[2]}, v[0] <= v[1]
}

// lookup returns the record of meta's message: how many of its earlier
// deliveries were handed back. A first delivery has none, without a read.
func (h *Handbacks) lookup(ctx context.Context, meta *jetstream.MsgMetadata) (handback, error) {
	if h == nil || meta.NumDelivered <= 1 {
		return handback{}, nil
	}
	e, err := h.kv.Get(ctx, handbackKey(meta))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return handback{}, nil
	}
	if err != nil {
		return handback{}, fmt.Errorf("handback record: %w", err)
	}
	r, ok := parseHandback(e.Value())
	r.rev = e.Revision()
	if !ok || r.delivered >= meta.NumDelivered || r.cseq >= meta.Sequence.Consumer {
		// Not written for an earlier delivery of this consumer's (another
		// consumer of the same name, since deleted): nothing skipped, and
		// removed when the message settles.
		return handback{rev: r.rev}, nil
	}
	return r, nil
}

// record notes that meta's delivery goes back unattempted, prev being what
// lookup found for it.
func (h *Handbacks) record(ctx context.Context, meta *jetstream.MsgMetadata, prev handback) error {
	next := handback{skipped: prev.skipped + 1, delivered: meta.NumDelivered, cseq: meta.Sequence.Consumer}
	if _, err := h.kv.Put(ctx, handbackKey(meta), next.value()); err != nil {
		return fmt.Errorf("handback record: %w", err)
	}
	return nil
}

// forget removes the record of a message settled for good, with its
// history and without the delete marker a KV delete would leave: records
// come and go with events, and markers would pile up in the bucket.
func (h *Handbacks) forget(ctx context.Context, meta *jetstream.MsgMetadata, r handback) {
	if h == nil || r.rev == 0 {
		return
	}
	// Also at shutdown, past the grace: the message is settled already.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// A record not removed only costs its bytes: it is never read again
	// for a message that is settled, and is ignored by a later consumer.
	_ = h.st.Purge(ctx, jetstream.WithPurgeSubject(h.subject(handbackKey(meta))))
}

// subject is the bucket's subject of key.
func (h *Handbacks) subject(key string) string { return "$KV." + h.kv.Bucket() + "." + key }

// Purge removes every record of a consumer's messages: its sink is gone.
func (h *Handbacks) Purge(ctx context.Context, stream, consumer string) error {
	if h == nil {
		return nil
	}
	filter := h.subject(handbackPrefix + subject.Token(stream) + "." + subject.Token(consumer) + ".>")
	if err := h.st.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
		return fmt.Errorf("dispatch: purge handbacks of %s: %w", consumer, err)
	}
	return nil
}

// handBack gives messages back to JetStream unattempted, each with its
// handback recorded first, so that its redelivery (here or on another
// replica) finds it. Records are written a few at a time: a stopping
// dispatcher may hold a whole pull window. A record that cannot be written
// leaves the delivery counted as an attempt, as JetStream counts it.
func (d *Dispatcher) handBack(ctx context.Context, b []jetstream.Msg) {
	h := d.opts.Handbacks
	if h == nil {
		for _, m := range b {
			d.nakUnattempted(m)
		}
		return
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, m := range b {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if meta, err := m.Metadata(); err == nil {
				prev, err := h.lookup(ctx, meta)
				if err == nil {
					err = h.record(ctx, meta, prev)
				}
				if err != nil {
					d.log.Warn("handback not recorded: the redelivery will count as an attempt", "stream_seq", meta.Sequence.Stream, "err", err)
				}
			}
			d.nakUnattempted(m)
		}()
	}
	wg.Wait()
}

func (d *Dispatcher) nakUnattempted(m jetstream.Msg) {
	if err := nakAtOnce(m); err != nil {
		d.log.Warn("nak on shutdown", "err", err)
	}
	d.keep.done(m)
}

// Skipped is how many of meta's message's earlier deliveries were handed
// back unattempted: what a move of its sink to shared delivery takes off
// its attempt count (shared.HandOver).
func (h *Handbacks) Skipped(ctx context.Context, meta *jetstream.MsgMetadata) (uint64, error) {
	r, err := h.lookup(ctx, meta)
	return r.skipped, err
}
