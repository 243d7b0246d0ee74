package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errTimeout is what a publish that outlived the request's budget reports.
var errTimeout = errors.New("no PubAck within the publish timeout")

// publish stores msgs and waits for every PubAck (at most h.timeout).
// One message is published synchronously; more go out together as async
// publishes, so an array costs about one round trip. results[i].Stored
// says which JetStream acknowledged; err is nil only when all were.
func (h *Handler) publish(ctx context.Context, msgs []*nats.Msg, ids []string) ([]Result, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	results := make([]Result, len(msgs))
	for i := range results {
		results[i].ID = ids[i]
	}
	if len(msgs) == 1 {
		ack, err := h.js.PublishMsg(ctx, msgs[0])
		if err == nil {
			err = h.checkAck(ack)
		}
		if err != nil {
			return results, fmt.Errorf("publish %s: %w", msgs[0].Subject, err)
		}
		results[0].Stored, results[0].Duplicate = true, ack.Duplicate
		return results, nil
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	var firstErr error
	// A full async window waits, at most until the request's deadline.
	deadline, _ := ctx.Deadline()
	stall := jetstream.WithStallWait(max(time.Until(deadline), time.Millisecond))
	for i, m := range msgs {
		f, err := h.js.PublishMsgAsync(m, stall)
		if err != nil {
			firstErr = fmt.Errorf("publish %s: %w", m.Subject, err)
			break
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			break
		}
		select {
		case ack := <-f.Ok():
			if err := h.checkAck(ack); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("publish %s: %w", msgs[i].Subject, err)
				}
				continue
			}
			results[i].Stored, results[i].Duplicate = true, ack.Duplicate
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("publish %s: %w", msgs[i].Subject, err)
			}
		case <-ctx.Done():
			if firstErr == nil {
				firstErr = fmt.Errorf("publish %s: %w", msgs[i].Subject, errTimeout)
			}
			// The rest may still be acknowledged; take those already in.
			for j := i; j < len(futures) && futures[j] != nil; j++ {
				select {
				case ack := <-futures[j].Ok():
					results[j].Stored, results[j].Duplicate = h.checkAck(ack) == nil, ack.Duplicate
				default:
				}
			}
			return results, firstErr
		}
	}
	return results, firstErr
}

// errWrongStream: a PubAck from a stream other than the events stream
// (a stream whose subjects overlap the events stream's): sinks would
// never see the event.
var errWrongStream = errors.New("stored in a stream other than the events stream")

func (h *Handler) checkAck(ack *jetstream.PubAck) error {
	if h.stream != "" && ack.Stream != h.stream {
		return fmt.Errorf("%w: %s", errWrongStream, ack.Stream)
	}
	return nil
}
