package shared

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Headers of a record that only Switchyard writes (the deliveries stream
// is trusted, see event.Trusted). The event's id and original subject go
// in event.HeaderEventID and event.HeaderOrigSubject.
const (
	// HeaderPublished is when the event was stored in the events stream
	// (RFC 3339, nanoseconds): the event's time when its producer gave
	// none, and where its latency is measured from.
	HeaderPublished = "Switchyard-Published"
	// HeaderAttempts is how many attempts earlier records of the same
	// delivery made: a retry is a new record.
	HeaderAttempts = "Switchyard-Attempts"
	// HeaderStream and HeaderStreamSeq are where the event is stored (the
	// events stream and its sequence there): the record is a copy, gone
	// once settled, and the attempt log and a dead letter point at the
	// event itself, as a dedicated sink's do.
	HeaderStream    = "Switchyard-Stream"
	HeaderStreamSeq = "Switchyard-Stream-Seq"
)

// EventAt reads where the event a record carries is stored; ok is false
// for a record written without it. Only a trusted stream's headers say
// this (event.Trusted): the caller checks.
func EventAt(h nats.Header) (stream string, seq uint64, ok bool) {
	stream = h.Get(HeaderStream)
	seq, err := strconv.ParseUint(h.Get(HeaderStreamSeq), 10, 64)
	if stream == "" || err != nil {
		return "", 0, false
	}
	return stream, seq, true
}

func setEventAt(h nats.Header, stream string, seq uint64) {
	if stream == "" {
		h.Del(HeaderStream)
		h.Del(HeaderStreamSeq)
		return
	}
	h.Set(HeaderStream, stream)
	h.Set(HeaderStreamSeq, strconv.FormatUint(seq, 10))
}

// The message schedule's headers (ADR-51).
const (
	headerSchedule       = "Nats-Schedule"
	headerScheduleTarget = "Nats-Schedule-Target"
)

// minScheduled is the shortest delay that waits as a message schedule: a
// shorter wait costs less as a Nak that holds the slot for a moment (and
// the server fires schedules at most every 250 ms).
const minScheduled = time.Second

// Record is one delivery record as its sink's dispatcher sees it: a
// jetstream.Msg whose metadata are those of the delivery, not of the
// record. Its attempt count carries over from earlier records, and its
// timestamp is the event's. NakWithDelay makes a retry wait as a message
// schedule instead of in the shared consumer's ack-pending slots.
type Record struct {
	msg         jetstream.Msg
	js          jetstream.JetStream
	incarnation string
	attempts    uint64
	published   time.Time

	once sync.Once
	meta *jetstream.MsgMetadata
	err  error
}

var _ jetstream.Msg = (*Record)(nil)

// NewRecord reads a record pulled from a delivery consumer.
func NewRecord(js jetstream.JetStream, m jetstream.Msg) *Record {
	r := &Record{msg: m, js: js, incarnation: subject.IncarnationOf(m.Subject())}
	h := m.Headers()
	r.attempts, _ = strconv.ParseUint(h.Get(HeaderAttempts), 10, 64)
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderPublished)); err == nil {
		r.published = t
	}
	return r
}

// Incarnation is the sink incarnation the record is for.
func (r *Record) Incarnation() string { return r.incarnation }

// Metadata is the record's, with NumDelivered counting the earlier
// records' attempts and Timestamp the event's.
func (r *Record) Metadata() (*jetstream.MsgMetadata, error) {
	r.once.Do(func() {
		m, err := r.msg.Metadata()
		if err != nil {
			r.err = err
			return
		}
		meta := *m
		meta.NumDelivered += r.attempts
		if !r.published.IsZero() {
			meta.Timestamp = r.published
		}
		r.meta = &meta
	})
	if r.err != nil {
		return nil, r.err
	}
	meta := *r.meta
	return &meta, nil
}

func (r *Record) Data() []byte         { return r.msg.Data() }
func (r *Record) Headers() nats.Header { return r.msg.Headers() }
func (r *Record) Subject() string      { return r.msg.Subject() }

// Reply is empty: a record's reply subject would give the record's own
// metadata to whoever parses it, where Metadata gives the delivery's.
func (r *Record) Reply() string { return "" }

func (r *Record) Ack() error                          { return r.msg.Ack() }
func (r *Record) DoubleAck(ctx context.Context) error { return r.msg.DoubleAck(ctx) }
func (r *Record) Nak() error                          { return r.msg.Nak() }
func (r *Record) InProgress() error                   { return r.msg.InProgress() }
func (r *Record) Term() error                         { return r.msg.Term() }
func (r *Record) TermWithReason(reason string) error  { return r.msg.TermWithReason(reason) }

// NakWithDelay asks for the delivery again after delay. A delay of a
// second or more waits as a message schedule: a new record, its attempts
// carried over, published at its time onto the sink's due subject; this
// record is then acked, so the wait holds no slot of the shared consumer.
// Should the schedule not be stored, the record itself waits (a Nak with
// the delay), as a dedicated sink's would.
func (r *Record) NakWithDelay(delay time.Duration) error {
	if delay < minScheduled {
		return r.msg.NakWithDelay(delay)
	}
	meta, err := r.msg.Metadata()
	if err != nil {
		return r.msg.NakWithDelay(delay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.schedule(ctx, meta, time.Now().Add(delay)); err != nil {
		return r.msg.NakWithDelay(delay)
	}
	return r.msg.Ack()
}

func (r *Record) schedule(ctx context.Context, meta *jetstream.MsgMetadata, at time.Time) error {
	h := make(nats.Header, len(r.msg.Headers())+4)
	for k, v := range r.msg.Headers() {
		h[k] = v
	}
	delete(h, "Nats-Scheduler")
	delete(h, "Nats-Schedule-Next")
	// The record's id would make the stream take the schedule for the
	// record again, a duplicate, and drop it.
	delete(h, event.HeaderMsgID)
	h.Set(HeaderAttempts, strconv.FormatUint(r.attempts+meta.NumDelivered, 10))
	// The time to the nanosecond: nats-server reads "@at" with Go's
	// RFC 3339 parser, which takes a fraction of a second, and fires at
	// that time (jetstream.WithScheduleAt would round it to the second).
	h.Set(headerSchedule, "@at "+at.UTC().Format(time.RFC3339Nano))
	h.Set(headerScheduleTarget, subject.Due(r.incarnation))
	out := &nats.Msg{Subject: subject.Retry(r.incarnation, meta.Sequence.Stream), Header: h, Data: r.msg.Data()}
	_, err := r.js.PublishMsg(ctx, out)
	if err != nil {
		return fmt.Errorf("shared: schedule a retry: %w", err)
	}
	return nil
}

// recordHeaders builds the headers of the record handing event m (at seq
// in stream) on: the event's own, its id and subject as Switchyard reads
// them, and when it was published.
func recordHeaders(m jetstream.Msg, stream string, meta *jetstream.MsgMetadata) nats.Header {
	src := m.Headers()
	h := make(nats.Header, len(src)+4)
	for k, v := range src {
		h[k] = v
	}
	h.Set(event.HeaderEventID, event.IDOf(src, stream, meta.Sequence.Stream))
	h.Set(event.HeaderOrigSubject, m.Subject())
	h.Set(HeaderPublished, meta.Timestamp.UTC().Format(time.RFC3339Nano))
	setEventAt(h, stream, meta.Sequence.Stream)
	h.Del(HeaderAttempts)
	// The record's own Nats-Msg-Id is set by the hand-off.
	h.Del(event.HeaderMsgID)
	return h
}

// Redriven is the record that sends a dead letter back to the shared sink
// incarnation: h and data are the dead letter's original headers (its id
// and subject among them) and body, published when the event was first
// stored at seq in stream. Its attempts start again from none, as a
// dedicated sink's redrive does. The caller gives it a Nats-Msg-Id of its
// own: the original record's would make the stream drop it as a duplicate.
func Redriven(incarnation string, h nats.Header, data []byte, published time.Time, stream string, seq uint64) *nats.Msg {
	out := make(nats.Header, len(h)+2)
	for k, v := range h {
		out[k] = v
	}
	delete(out, event.HeaderMsgID)
	out.Set(HeaderAttempts, "0")
	setEventAt(out, stream, seq)
	if !published.IsZero() {
		out.Set(HeaderPublished, published.UTC().Format(time.RFC3339Nano))
	}
	return &nats.Msg{Subject: subject.Due(incarnation), Header: out, Data: data}
}
