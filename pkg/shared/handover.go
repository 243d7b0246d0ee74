package shared

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Skipped says how many of a message's earlier deliveries were handed
// back unattempted (dispatch.Handbacks.Skipped); nil: none were.
type Skipped func(ctx context.Context, meta *jetstream.MsgMetadata) (uint64, error)

// All is the upTo of HandOver that takes every message: a redrive
// consumer's, which the matchers never see.
const All = ^uint64(0)

// handOverWait is how long one pull of HandOver waits for messages.
const handOverWait = time.Second

// HandOver moves what a dedicated sink's consumer c still holds to the
// sink's shared delivery, once the sink, same incarnation, is indexed to
// take the events after stream sequence upTo (Index.PutAfter): each
// message c delivers, first deliveries and those waiting out a retry
// alike, becomes a record on subject.Due(incarnation) with the headers
// the matchers write and the attempts it has made so far, and is acked
// once the record is stored. It returns, with how many records it made,
// once c holds nothing at or before upTo: a message waiting out a retry
// is handed on when its delay is over, so it waits as long as it would
// have. The caller then deletes c.
//
// A record's Nats-Msg-Id is the one the matchers give the event's
// ("<incarnation>:<seq>"; "<incarnation>:r<seq>" for a redrive), so an
// event after upTo that c still delivers, which the matchers hand on too,
// makes one record within the deliveries stream's duplicate window; so
// does an event of a HandOver interrupted (a crash between a record and
// its ack) and run again. Such events are not acked without a record:
// with several replicas, each indexes the sink after its own last
// sequence, and one whose bound is above upTo leaves the events between
// to the consumer.
func HandOver(ctx context.Context, js jetstream.JetStream, c jetstream.Consumer, incarnation string, upTo uint64, skipped Skipped) (int, error) {
	made := 0
	for {
		info, err := c.Info(ctx)
		if err != nil {
			return made, fmt.Errorf("shared: hand over %s: consumer info: %w", incarnation, err)
		}
		if info.NumAckPending == 0 && (info.NumPending == 0 || info.Delivered.Stream >= upTo) {
			return made, nil
		}
		if info.Paused {
			// A paused sink's consumer gives nothing: its backlog moves
			// all the same (the shared sink keeps the pause).
			if _, err := js.ResumeConsumer(ctx, info.Stream, info.Name); err != nil {
				return made, fmt.Errorf("shared: hand over %s: resume %s: %w", incarnation, info.Name, err)
			}
		}
		opts := []jetstream.FetchOpt{jetstream.FetchMaxWait(handOverWait)}
		if len(info.Config.PriorityGroups) > 0 {
			// A sink's consumer serves its incarnation's group only.
			opts = append(opts, jetstream.FetchPriorityGroup(info.Config.PriorityGroups[0]))
		}
		b, err := c.Fetch(256, opts...)
		if err != nil {
			return made, fmt.Errorf("shared: hand over %s: fetch: %w", incarnation, err)
		}
		for m := range b.Messages() {
			n, err := handOverOne(ctx, js, m, incarnation, skipped)
			if err != nil {
				// Not acked: it comes back, to this run or the next.
				_ = m.Nak()
				return made, err
			}
			made += n
		}
		if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			return made, fmt.Errorf("shared: hand over %s: pull: %w", incarnation, err)
		}
		if ctx.Err() != nil {
			return made, ctx.Err()
		}
	}
}

// handOverOne makes the record of one message and acks the message; it
// counts 0 when the record was one already stored.
func handOverOne(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, incarnation string, skipped Skipped) (int, error) {
	meta, err := m.Metadata()
	if err != nil {
		return 0, fmt.Errorf("shared: hand over %s: %w", incarnation, err)
	}
	redrive := event.Trusted(meta.Stream)
	attempts := meta.NumDelivered - 1 // this delivery is not an attempt
	if skipped != nil && meta.NumDelivered > 1 {
		n, err := skipped(ctx, meta)
		if err != nil {
			return 0, err
		}
		attempts -= min(n, attempts)
	}
	h := handOverHeaders(m, meta)
	if attempts > 0 {
		h.Set(HeaderAttempts, strconv.FormatUint(attempts, 10))
	}
	id := incarnation + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	if redrive {
		id = incarnation + ":r" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	h.Set(event.HeaderMsgID, id)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(pctx, &nats.Msg{Subject: subject.Due(incarnation), Header: h, Data: m.Data()})
	if err != nil {
		return 0, fmt.Errorf("shared: hand over %s: record of %d: %w", incarnation, meta.Sequence.Stream, err)
	}
	made := 1
	if ack.Duplicate {
		made = 0
	}
	// A lost ack brings the message back; its record is not made twice.
	if err := m.DoubleAck(pctx); err != nil {
		return made, fmt.Errorf("shared: hand over %s: ack %d: %w", incarnation, meta.Sequence.Stream, err)
	}
	return made, nil
}

// handOverHeaders are the record headers of a message a dedicated
// consumer held: the matchers' for an event; for a redrive (written by
// Switchyard, its identity headers trusted) its own, which carry the
// event's id and subject already.
func handOverHeaders(m jetstream.Msg, meta *jetstream.MsgMetadata) nats.Header {
	if !event.Trusted(meta.Stream) {
		return recordHeaders(m, meta.Stream, meta)
	}
	h := cloneHeader(m.Headers())
	if h == nil {
		h = nats.Header{}
	}
	if h.Get(event.HeaderEventID) == "" {
		h.Set(event.HeaderEventID, event.IDOf(m.Headers(), meta.Stream, meta.Sequence.Stream))
	}
	if h.Get(event.HeaderOrigSubject) == "" {
		h.Set(event.HeaderOrigSubject, m.Subject())
	}
	h.Set(HeaderPublished, meta.Timestamp.UTC().Format(time.RFC3339Nano))
	h.Del(HeaderAttempts)
	h.Del(event.HeaderMsgID)
	return h
}
