package shared

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Matcher reads the events stream through one durable consumer (every
// replica pulls it, and JetStream spreads the events among them) and hands
// each event on to every shared sink that takes it, as a record on the
// sink's due subject, before it acks the event. A record's Nats-Msg-Id is
// its sink incarnation and the event's stream sequence: an event
// delivered to the matchers again (a replica died between the hand-off and
// the ack) makes no second record within the deliveries stream's
// duplicate window.
type Matcher struct {
	Conn   *nats.Conn
	Stream string // the events stream
	Index  *Index
	Log    *slog.Logger
	// AckWait is how long the events stream waits for a matcher's ack
	// before it hands the event to another; zero: 30 s.
	AckWait time.Duration
	// Batch is how many events one pull asks for; zero: 256.
	Batch int
	// Current, when set, says whether this replica runs every sink
	// created (through any replica) before it was called. The matchers
	// hand an event on only once it does for the event's publish time:
	// a sink created just before an event gets it, whichever replica
	// matches the event. nil: the index is taken as current.
	Current func(ctx context.Context) (bool, error)

	// checkedAt: the index was current for every event published before.
	checkedAt time.Time
}

// clockSkew is how far the servers' clocks, which stamp the events, may
// be behind this replica's: an event stamped that much before a check
// is still checked again.
const clockSkew = 50 * time.Millisecond

// currentWait bounds the wait for the index to be current: past it, a
// replica whose watch is stuck still matches, and says so.
const currentWait = 10 * time.Second

// waitCurrent waits until the index is current for an event published
// at published.
func (m *Matcher) waitCurrent(ctx context.Context, published time.Time, log *slog.Logger) {
	if m.Current == nil || published.Before(m.checkedAt) {
		return
	}
	deadline := time.Now().Add(currentWait)
	for ctx.Err() == nil {
		asked := time.Now()
		ok, err := m.Current(ctx)
		if ok {
			m.checkedAt = asked.Add(-clockSkew)
			return
		}
		if time.Now().After(deadline) {
			log.Warn("this replica's sinks are not current after 10s: matching with what it runs", "err", err)
			m.checkedAt = asked.Add(-clockSkew)
			return
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// matchPending bounds the events handed on and not yet acked.
const matchPending = 4096

// EnsureConsumer creates the matchers' consumer if it does not exist. It
// takes the events published from then on: no shared sink existed before.
func (m *Matcher) EnsureConsumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       subject.MatchConsumer,
		Description:   "Switchyard shared delivery: hands each event on to the shared sinks that take it",
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       m.ackWait(),
		MaxDeliver:    -1,
		MaxAckPending: 2 * matchPending,
		MaxWaiting:    512,
	}
	if c, err := js.Consumer(ctx, m.Stream, subject.MatchConsumer); err == nil {
		return c, nil
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("shared: matchers' consumer: %w", err)
	}
	c, err := js.CreateOrUpdateConsumer(ctx, m.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("shared: matchers' consumer: %w", err)
	}
	return c, nil
}

func (m *Matcher) ackWait() time.Duration {
	if m.AckWait > 0 {
		return m.AckWait
	}
	return 30 * time.Second
}

// handoff is one event handed on: acked once every record is stored.
type handoff struct {
	msg     jetstream.Msg
	futures []jetstream.PubAckFuture
}

// Run matches until ctx ends. The events it has pulled are handed on and
// acked before it returns; those it has not pulled wait for the next
// matcher.
func (m *Matcher) Run(ctx context.Context) {
	log := m.Log.With("component", "matcher")
	js, err := jetstream.New(m.Conn, jetstream.WithPublishAsyncMaxPending(matchPending))
	if err != nil {
		log.Error("matcher not started", "err", err)
		return
	}
	// The consumer is made with the first shared sink (EnsureConsumer):
	// until then there is nothing to match, and nothing is read.
	var cons jetstream.Consumer
	for wait := time.Second; ; {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err = js.Consumer(cctx, m.Stream, subject.MatchConsumer)
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			log.Error("matchers' consumer not ready; trying again", "err", err, "retry_in", wait)
		}
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	acks := make(chan handoff, matchPending)
	ackerDone := make(chan struct{})
	go func() {
		defer close(ackerDone)
		m.ack(acks, log)
	}()
	defer func() {
		close(acks)
		<-ackerDone
	}()
	batch := m.Batch
	if batch <= 0 {
		batch = 256
	}
	var matched []string
	for ctx.Err() == nil {
		b, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("matchers' pull", "err", err)
				sleepCtx(ctx, 250*time.Millisecond)
			}
			continue
		}
		for msg := range b.Messages() {
			matched = m.handOn(ctx, js, msg, matched[:0], acks, log)
		}
		if err := b.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
			log.Warn("matchers' pull", "err", err)
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if c, err := m.EnsureConsumer(cctx, js); err == nil {
					cons = c
				}
				cancel()
			}
		}
	}
}

// handOn publishes the records of one event and queues its ack.
func (m *Matcher) handOn(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, matched []string, acks chan<- handoff, log *slog.Logger) []string {
	meta, err := msg.Metadata()
	if err != nil {
		log.Error("event without metadata", "subject", msg.Subject(), "err", err)
		return matched
	}
	m.waitCurrent(ctx, meta.Timestamp, log)
	matched = m.Index.Match(msg.Subject(), meta.Sequence.Stream, matched)
	h := handoff{msg: msg}
	if len(matched) > 0 {
		hdr := recordHeaders(msg, meta.Stream, meta)
		seq := strconv.FormatUint(meta.Sequence.Stream, 10)
		h.futures = make([]jetstream.PubAckFuture, 0, len(matched))
		for _, inc := range matched {
			rh := hdr
			if len(matched) > 1 {
				rh = cloneHeader(hdr)
			}
			rh.Set(event.HeaderMsgID, inc+":"+seq)
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: subject.Due(inc), Header: rh, Data: msg.Data()})
			if err != nil {
				log.Warn("record not handed on; the event comes back", "sink_incarnation", inc, "err", err)
				_ = msg.NakWithDelay(time.Second)
				return matched
			}
			h.futures = append(h.futures, f)
		}
	}
	acks <- h
	return matched
}

// ack settles the events in the order they were handed on: Ack once all
// of an event's records are stored, otherwise a Nak so it comes back and
// its missing records are made (the stored ones are not made twice).
func (m *Matcher) ack(acks <-chan handoff, log *slog.Logger) {
	for h := range acks {
		ok := true
		for _, f := range h.futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				ok = false
				log.Warn("record not stored; the event comes back", "subject", f.Msg().Subject, "err", err)
			}
		}
		if ok {
			_ = h.msg.Ack()
		} else {
			_ = h.msg.NakWithDelay(time.Second)
		}
	}
}

func cloneHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
