// Package deadletter owns the dead-letter stream: the record format (the
// original headers and body plus why it failed), storing, listing and
// redriving records to the one sink they failed for.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Headers a dead letter carries beside the original message's own.
const (
	HeaderSink        = "Switchyard-Sink"
	HeaderReason      = "Switchyard-Reason"
	HeaderStatus      = "Switchyard-Status"
	HeaderAttempts    = "Switchyard-Attempts"
	HeaderFailedAt    = "Switchyard-Failed-At"
	HeaderPublishedAt = "Switchyard-Published-At"
	HeaderStream      = "Switchyard-Stream"
	HeaderStreamSeq   = "Switchyard-Stream-Seq"
	// HeaderBodyOmitted, when set, gives the size of a body too large to
	// fit in the dead letter beside its headers; the body stays in the
	// events stream at Switchyard-Stream / Switchyard-Stream-Seq, and a
	// redrive reads it from there.
	HeaderBodyOmitted = "Switchyard-Body-Omitted"
	// HeaderType and HeaderTenant are the event's type and tenant (none:
	// an unscoped event), so that a filter by type finds a tenant's dead
	// letters too: the original subject of one is tenants.<tenant>.<type>.
	HeaderType   = "Switchyard-Type"
	HeaderTenant = "Switchyard-Tenant"
	// HeaderIncarnation is the incarnation of the sink that wrote the
	// dead letter (see bus.MetaIncarnation).
	HeaderIncarnation = "Switchyard-Incarnation"
)

// maxReason bounds the reason header: error strings can be long, and the
// record must fit in one message.
const maxReason = 1024

// Store reads and writes the dead-letter stream.
type Store struct {
	JS     jetstream.JetStream
	Stream string
}

// Input is one message to dead-letter.
type Input struct {
	Sink     string
	Msg      jetstream.Msg
	Meta     *jetstream.MsgMetadata
	Event    *event.Event // nil when the message could not be read as an event
	Reason   string
	Status   int
	Attempts int
	// Incarnation is the writing sink's incarnation, kept in the record.
	Incarnation string
	// Owner, when set, is asked after the record is stored whether the
	// sink's name is still the writer's: a sink deleted and created again
	// meanwhile (on another replica) owns the name's dead letters, and a
	// record of the old one must not become the new one's. On an error
	// the record is deleted again and Put fails with it. Asked after the
	// write, not before: a delete cleans the name's dead letters after
	// its tombstone, so a record written before that cleaning is removed
	// by it, and one written after is caught here.
	Owner func(ctx context.Context) error
}

// Put stores a dead letter and waits for JetStream to confirm it. The
// message id makes a repeat after a crash (stored, not yet terminated) a
// no-op within the duplicate window.
func (s *Store) Put(ctx context.Context, in Input) error {
	h := originalHeaders(in.Msg.Headers())
	// A shared delivery record is a copy of the event: the dead letter
	// points at the event itself, in the events stream.
	stream, seq := in.Meta.Stream, in.Meta.Sequence.Stream
	trusted := event.Trusted(in.Meta.Stream)
	if s, n, ok := shared.EventAt(in.Msg.Headers()); trusted && ok {
		stream, seq = s, n
	}
	id := event.DerivedID(stream, seq)
	switch v := in.Msg.Headers(); {
	case in.Event != nil:
		id = in.Event.ID
	case trusted && v.Get(event.HeaderEventID) != "":
		// One that could not be read as an event keeps the id Switchyard
		// gave it when it handed it on (a redrive, a shared record).
		id = v.Get(event.HeaderEventID)
	case v.Get(event.HeaderMsgID) != "":
		id = v.Get(event.HeaderMsgID)
	}
	h.Set(event.HeaderEventID, id)
	// The original subject is this message's own, unless Switchyard wrote
	// it on a redrive; a producer's Switchyard-Subject is never kept.
	if !event.Trusted(in.Meta.Stream) || h.Get(event.HeaderOrigSubject) == "" {
		h.Set(event.HeaderOrigSubject, in.Msg.Subject())
	}
	typ, tenant := typeOf(in.Event, h.Get(event.HeaderOrigSubject))
	h.Set(HeaderType, typ)
	if tenant != "" {
		h.Set(HeaderTenant, tenant)
	}
	h.Set(HeaderSink, in.Sink)
	h.Set(HeaderReason, truncate(in.Reason, maxReason))
	h.Set(HeaderStatus, strconv.Itoa(in.Status))
	h.Set(HeaderAttempts, strconv.Itoa(in.Attempts))
	h.Set(HeaderFailedAt, time.Now().UTC().Format(time.RFC3339Nano))
	h.Set(HeaderPublishedAt, in.Meta.Timestamp.UTC().Format(time.RFC3339Nano))
	h.Set(HeaderStream, stream)
	h.Set(HeaderStreamSeq, strconv.FormatUint(seq, 10))
	if in.Incarnation != "" {
		h.Set(HeaderIncarnation, in.Incarnation)
	}
	msg := &nats.Msg{Subject: bus.DeadLetterSubject(in.Sink), Header: h, Data: in.Msg.Data()}
	// The consumer is part of the id: a replay of an event that was
	// dead-lettered minutes ago must not be taken for a duplicate of it.
	dedup := fmt.Sprintf("dlq:%s:%s:%s:%d", in.Sink, in.Meta.Consumer, in.Meta.Stream, in.Meta.Sequence.Stream)
	if in.Incarnation != "" {
		// Nor one of another sink of the name: a record a replaced sink
		// writes, and takes back (Owner), must not be taken for the new
		// sink's own record of the same event.
		dedup += ":" + in.Incarnation
	}
	// The publish adds the Nats-Msg-Id header.
	idHeader := int64(len(event.HeaderMsgID) + len(": \r\n") + len(dedup))
	if nc := s.JS.Conn(); nc != nil && recordSize(msg)+idHeader > nc.MaxPayload() {
		// The bookkeeping headers would push a body near max_payload over
		// it, and a dead letter that can never be stored is an event that
		// can never leave. Keep the body by reference instead.
		h.Set(HeaderBodyOmitted, strconv.Itoa(len(msg.Data)))
		msg.Data = nil
	}
	ack, err := s.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(dedup))
	if err != nil {
		return fmt.Errorf("deadletter: store: %w", err)
	}
	if in.Owner != nil {
		if err := in.Owner(ctx); err != nil {
			return s.takeBack(ctx, ack.Sequence, err)
		}
	}
	return nil
}

// typeOf is the type and tenant of a dead letter: the event's own, or,
// for a message that could not be read as one, what its subject says.
func typeOf(ev *event.Event, origSubject string) (typ, tenant string) {
	if ev != nil {
		return ev.Type, ev.Tenant
	}
	if tenant, typ, ok := subject.Split(origSubject); ok {
		return typ, tenant
	}
	// Not an event subject at all: the subject is all there is to show.
	return origSubject, ""
}

// takeBack deletes a dead letter just written by a sink that turned out
// not to own its name any more.
func (s *Store) takeBack(ctx context.Context, seq uint64, why error) error {
	st, err := s.JS.Stream(ctx, s.Stream)
	if err == nil {
		err = st.DeleteMsg(ctx, seq)
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("deadletter: stored, and not taken back (%w) though %w", err, why)
	}
	return fmt.Errorf("deadletter: not stored: %w", why)
}

// recordSize is the size of msg on the wire as the server counts it
// against max_payload: headers block plus body.
func recordSize(msg *nats.Msg) int64 {
	n := len("NATS/1.0\r\n\r\n") + len(msg.Data)
	for k, vs := range msg.Header {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return int64(n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// originalHeaders keeps what the producer set, and the event's identity,
// and drops what JetStream and earlier dead-lettering added: the
// Nats-Msg-Id is spent on de-duplicating this republish, and the
// Switchyard-* bookkeeping is written afresh.
func originalHeaders(in nats.Header) nats.Header {
	h := nats.Header{}
	for k, v := range in {
		if k == event.HeaderMsgID || strings.HasPrefix(k, "Switchyard-") && k != event.HeaderEventID && k != event.HeaderOrigSubject {
			continue
		}
		h[k] = v
	}
	return h
}

// Record is a dead letter as the admin API shows it.
type Record struct {
	Seq          uint64          `json:"seq"`
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Tenant       string          `json:"tenant,omitempty"` // "": an unscoped event
	Sink         string          `json:"sink"`
	Reason       string          `json:"reason"`
	Status       int             `json:"status"`
	Attempts     int             `json:"attempts"`
	Time         time.Time       `json:"time"`
	PublishedAt  time.Time       `json:"published_at"`
	Data         json.RawMessage `json:"data,omitempty"`
	DataBase64   []byte          `json:"data_base64,omitempty"`
	DataEncoding string          `json:"data_encoding,omitempty"`
	// BodyOmitted is the size of a body too large to keep in the dead
	// letter; it stays in the events stream (Stream, StreamSeq) and a
	// redrive reads it from there while the stream still holds it.
	BodyOmitted int    `json:"body_omitted,omitempty"`
	Stream      string `json:"stream,omitempty"`
	StreamSeq   uint64 `json:"stream_seq,omitempty"`
	// Incarnation is the incarnation of the sink that wrote it.
	Incarnation string `json:"incarnation,omitempty"`
}

func recordOf(m jetstream.Msg, seq uint64) Record {
	h := m.Headers()
	r := Record{Seq: seq, ID: h.Get(event.HeaderEventID), Sink: h.Get(HeaderSink), Reason: h.Get(HeaderReason)}
	r.Type, r.Tenant = h.Get(HeaderType), h.Get(HeaderTenant)
	if r.Type == "" {
		// Stored before the type had a header of its own: read it from
		// the original subject, which for a tenant's event is
		// tenants.<tenant>.<type>.
		r.Type, r.Tenant = typeOf(nil, h.Get(event.HeaderOrigSubject))
	}
	r.Status, _ = strconv.Atoi(h.Get(HeaderStatus))
	r.Attempts, _ = strconv.Atoi(h.Get(HeaderAttempts))
	r.Time, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderFailedAt))
	r.PublishedAt, _ = time.Parse(time.RFC3339Nano, h.Get(HeaderPublishedAt))
	r.BodyOmitted, _ = strconv.Atoi(h.Get(HeaderBodyOmitted))
	r.Stream = h.Get(HeaderStream)
	r.StreamSeq, _ = strconv.ParseUint(h.Get(HeaderStreamSeq), 10, 64)
	r.Incarnation = h.Get(HeaderIncarnation)
	switch d := m.Data(); {
	case len(d) == 0:
	case json.Valid(d):
		r.Data = d
	default:
		r.DataBase64, r.DataEncoding = d, "base64"
	}
	return r
}

// each calls fn for every dead letter of sink, oldest first, reading with
// an ordered consumer that leaves no state behind.
func (s *Store) each(ctx context.Context, sink string, fn func(jetstream.Msg, uint64) error) error {
	c, err := s.JS.OrderedConsumer(ctx, s.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.DeadLetterSubject(sink)},
	})
	if err != nil {
		return fmt.Errorf("deadletter: read: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("deadletter: read: %w", err)
	}
	remaining := int(info.NumPending)
	for remaining > 0 {
		// The reader may have gone (a canceled request): stop reading.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("deadletter: read: %w", err)
		}
		batch, err := c.Fetch(min(remaining, 256), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return fmt.Errorf("deadletter: read: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("deadletter: read: %w", err)
			}
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			if err := fn(m, meta.Sequence.Stream); err != nil {
				return err
			}
			remaining--
		}
		if batch.Error() != nil {
			return fmt.Errorf("deadletter: read: %w", batch.Error())
		}
		if n == 0 {
			break
		}
	}
	return nil
}

// Filter selects dead letters. Zero fields select everything.
type Filter struct {
	Type   string    // event type, NATS wildcards allowed
	Tenant string    // the tenant's only ("": every tenant's and unscoped)
	Reason string    // substring of the reason
	Since  time.Time // failed at or after
	Until  time.Time // failed before
	Offset int       // skip this many matches (paging)
	Limit  int       // at most this many (0: no limit)
}

func (f Filter) match(r Record) bool {
	return (f.Type == "" || event.MatchType(f.Type, r.Type)) &&
		(f.Tenant == "" || r.Tenant == f.Tenant) &&
		(f.Reason == "" || strings.Contains(r.Reason, f.Reason)) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || r.Time.Before(f.Until))
}

// selectEach calls fn for each dead letter of sink that f selects, oldest
// first, honouring Offset and Limit.
func (s *Store) selectEach(ctx context.Context, sink string, f Filter, fn func(jetstream.Msg, Record) error) error {
	skipped, taken := 0, 0
	errDone := errors.New("done")
	err := s.each(ctx, sink, func(m jetstream.Msg, seq uint64) error {
		r := recordOf(m, seq)
		if !f.match(r) {
			return nil
		}
		if skipped < f.Offset {
			skipped++
			return nil
		}
		if f.Limit > 0 && taken == f.Limit {
			return errDone
		}
		taken++
		return fn(m, r)
	})
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

// List returns the dead letters of sink that f selects, oldest first.
func (s *Store) List(ctx context.Context, sink string, f Filter) ([]Record, error) {
	out := []Record{}
	err := s.selectEach(ctx, sink, f, func(_ jetstream.Msg, r Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// Purge deletes the dead letters of sink that f selects.
func (s *Store) Purge(ctx context.Context, sink string, f Filter) (int, error) {
	return s.removeEach(ctx, "purge", sink, f, nil)
}

// Route is where a sink's redriven dead letters go: the zero Route is a
// dedicated sink's, its redrive consumer; a shared sink has none, and takes
// them as delivery records of its incarnation in the deliveries stream.
type Route struct {
	Shared      bool
	Incarnation string
}

// Redrive sends the dead letters of sink that f selects back to that sink
// alone, along to, with its original id, headers and body, and a fresh
// attempt budget. A record leaves the dead-letter stream only after its
// republish is confirmed.
func (s *Store) Redrive(ctx context.Context, sink string, to Route, f Filter) (int, error) {
	return s.removeEach(ctx, "redrive", sink, f, func(m jetstream.Msg, r Record) error {
		seq := r.Seq
		h := originalHeaders(m.Headers())
		data := m.Data()
		if r.BodyOmitted > 0 {
			orig, err := s.JS.Stream(ctx, r.Stream)
			if err != nil {
				return fmt.Errorf("deadletter: redrive %d: the body is kept in stream %s: %w", seq, r.Stream, err)
			}
			raw, err := orig.GetMsg(ctx, r.StreamSeq)
			if err != nil {
				return fmt.Errorf("deadletter: redrive %d: the body is kept in stream %s at %d, no longer there: %w", seq, r.Stream, r.StreamSeq, err)
			}
			data = raw.Data
		}
		out := &nats.Msg{Subject: bus.RedriveSubject(sink), Header: h, Data: data}
		if to.Shared {
			out = shared.Redriven(to.Incarnation, h, data, r.PublishedAt, r.Stream, r.StreamSeq)
		}
		// The id is the dead letter's own: a redrive repeated after a crash
		// (published, not yet removed) is dropped, and a shared record is
		// not taken for the event's first record, which it would be with
		// that record's id.
		if _, err := s.JS.PublishMsg(ctx, out, jetstream.WithMsgID(fmt.Sprintf("redrive:%s:%d", s.Stream, seq))); err != nil {
			return fmt.Errorf("deadletter: redrive: %w", err)
		}
		return nil
	})
}

// removeEach deletes from the dead-letter stream every dead letter of sink
// that f selects, each once first (when set) has succeeded for it, and
// counts those deleted. op names the operation in errors.
func (s *Store) removeEach(ctx context.Context, op, sink string, f Filter, first func(jetstream.Msg, Record) error) (int, error) {
	stream, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return 0, fmt.Errorf("deadletter: %s: %w", op, err)
	}
	n := 0
	err = s.selectEach(ctx, sink, f, func(m jetstream.Msg, r Record) error {
		if first != nil {
			if err := first(m, r); err != nil {
				return err
			}
		}
		if err := stream.DeleteMsg(ctx, r.Seq); err != nil {
			return fmt.Errorf("deadletter: %s: remove %d: %w", op, r.Seq, err)
		}
		n++
		return nil
	})
	return n, err
}

// Count is how many dead letters sink has, from the stream's per-subject
// counts: no message is read.
func (s *Store) Count(ctx context.Context, sink string) (uint64, error) {
	stream, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return 0, err
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(bus.DeadLetterSubject(sink)))
	if err != nil {
		return 0, err
	}
	return info.State.Subjects[bus.DeadLetterSubject(sink)], nil
}

// PurgeSink removes every dead letter of sink, and every redrive of them
// not yet delivered, in one request per stream: a deleted sink's records
// must never reach a later sink of the same name.
func (s *Store) PurgeSink(ctx context.Context, sink string) error {
	for _, p := range []struct{ stream, subject string }{{s.Stream, bus.DeadLetterSubject(sink)}, {bus.RedriveStream, bus.RedriveSubject(sink)}} {
		st, err := s.JS.Stream(ctx, p.stream)
		if err != nil {
			return fmt.Errorf("deadletter: purge sink %s: %w", sink, err)
		}
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(p.subject)); err != nil {
			return fmt.Errorf("deadletter: purge sink %s: %w", sink, err)
		}
	}
	return nil
}
