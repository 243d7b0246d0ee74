package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// maxDelay caps every computed retry delay: a huge Retry-After or schedule
// entry, spread by jitter, must not overflow into a negative delay (an
// immediate redelivery).
const maxDelay = 7 * 24 * time.Hour

// settle decides the fate of one attempted message. Every path ends in
// exactly one of Ack, NakWithDelay, Nak (shutdown only) or Term — or, while
// the dead-letter store fails, a hold that ends in Term once it works. It
// returns the outcome, as the metrics and the attempt log name it.
func (d *Dispatcher) settle(ctx context.Context, x delivery, err error) string {
	name := d.opts.Sink.Name
	if err == nil {
		d.delivered.Add(1)
		if aerr := x.msg.Ack(); aerr != nil {
			d.log.Warn("ack failed; the event may be delivered again", "event_id", x.ev.ID, "type", x.ev.Type, "attempt", x.attempt, "err", aerr)
		}
		d.opts.Handbacks.forget(ctx, x.meta, x.handback)
		d.keep.done(x.msg)
		d.laneDone(x)
		d.hot.delivered.Inc()
		d.hot.latency.Observe(time.Since(x.meta.Timestamp).Seconds())
		d.status.mu.Lock()
		d.status.LastSuccess = time.Now()
		d.status.FailingSince = time.Time{}
		d.status.mu.Unlock()
		return telemetry.OutcomeDelivered
	}
	// Built only off the success path: a logger per delivered event costs
	// more than the rest of settling it.
	log := d.log.With("event_id", x.ev.ID, "type", x.ev.Type, "attempt", x.attempt)
	c := sink.Classify(err)
	if c.Class != sink.Canceled {
		d.failed.Add(1)
		d.status.mu.Lock()
		d.status.LastError, d.status.LastErrorAt = err.Error(), time.Now()
		if d.status.FailingSince.IsZero() {
			d.status.FailingSince = d.status.LastErrorAt
		}
		d.status.mu.Unlock()
	}
	last := x.attempt >= d.opts.Sink.Retry.Attempts()
	switch {
	case c.Class == sink.Canceled:
		// Shutdown, not the destination's fault: hand it back at once.
		_ = nakAtOnce(x.msg)
		d.keep.done(x.msg)
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeCanceled).Inc()
		log.Info("delivery interrupted by shutdown; handed back to JetStream")
		return telemetry.OutcomeCanceled
	case c.Class == sink.Permanent:
		return d.deadLetter(ctx, x, err.Error(), c.Status, "permanent")
	case last:
		return d.deadLetter(ctx, x, fmt.Sprintf("gave up after %d attempts: %v", x.attempt, err), c.Status, "attempts_exhausted")
	case c.Class == sink.RateLimited:
		delay := clampDelay(min(c.RetryAfter, d.opts.Sink.Retry.MaxRetryAfter.D))
		d.nakWithDelay(x, delay)
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeRateLimited).Inc()
		log.Warn("rate limited; retrying when the receiver asked", "status", c.Status, "retry_in", delay, "err", err)
		return telemetry.OutcomeRateLimited
	default:
		delay := d.backoff(x.attempt)
		d.nakWithDelay(x, delay)
		d.hot.retried.Inc()
		log.Warn("delivery failed; will retry", "status", c.Status, "retry_in", delay, "err", err)
		return telemetry.OutcomeRetried
	}
}

// nakAtOnce asks for m again at once. A plain Nak only queues m in the
// server's memory, lost when the server stops (an embedded server stops
// with the gateway): m then came back an ack wait after its last
// in-progress. A Nak with a delay is kept as m's redelivery time in the
// consumer's stored state, so m is due at once on a restarted server too.
func nakAtOnce(m jetstream.Msg) error {
	return m.NakWithDelay(time.Nanosecond)
}

func (d *Dispatcher) nakWithDelay(x delivery, delay time.Duration) {
	if err := x.msg.NakWithDelay(delay); err != nil {
		// Without the nak, AckWait still brings the message back.
		d.log.Warn("nak failed; JetStream will redeliver after its ack wait", "event_id", x.ev.ID, "err", err)
	}
	d.keep.done(x.msg)
}

// backoff is the delay after a failed attempt n: schedule[n-1], spread by
// ± jitter so that a receiver's recovery is not met by a thundering herd.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	s := d.opts.Sink.Retry.Schedule
	if len(s) == 0 {
		return 0
	}
	base := s[min(max(attempt-1, 0), len(s)-1)].D
	j := *d.opts.Sink.Retry.Jitter
	if j == 0 {
		return clampDelay(base)
	}
	f := float64(base) * (1 + j*(2*rand.Float64()-1))
	if f >= float64(maxDelay) {
		return maxDelay
	}
	return clampDelay(time.Duration(f))
}

func clampDelay(d time.Duration) time.Duration { return min(max(d, 0), maxDelay) }

// deadLetter stores the message in the dead-letter stream, then terminates
// it. If the store fails, the message is held — kept alive, not retried
// against the destination, its delivery count untouched — while the store
// is tried again with a bounded backoff; the sink shows degraded meanwhile.
func (d *Dispatcher) deadLetter(ctx context.Context, x delivery, reason string, status int, cause string) string {
	in := deadletter.Input{Sink: d.opts.Sink.Name, Msg: x.msg, Meta: x.meta, Event: x.ev,
		Reason: reason, Status: status, Attempts: x.attempt, Incarnation: d.opts.Sink.Incarnation}
	switch {
	case in.Incarnation == "":
	case len(d.opts.Consumers) > 0:
		in.Owner = d.ownsSink
	default: // push mode: no consumer of its own to ask
		in.Owner = d.opts.Owner
	}
	err := d.opts.DLQ.Put(ctx, in)
	if err == nil {
		d.terminate(x, in, cause)
		return telemetry.OutcomeDeadLetter
	}
	d.held.Add(1)
	d.holders.Add(1)
	go d.holdDeadLetter(x, in, cause, err)
	return telemetry.OutcomeDeadLetterHeld
}

// holdDeadLetter retries the dead-letter store until it works or the
// gateway's grace period ends. Given up at shutdown, the message is left
// unsettled: JetStream redelivers it after AckWait and it is judged again.
func (d *Dispatcher) holdDeadLetter(x delivery, in deadletter.Input, cause string, err error) {
	defer d.holders.Done()
	ctx := d.hardCtx
	id := eventID(x)
	wait := 250 * time.Millisecond
	for {
		if errors.Is(err, bus.ErrSinkReplaced) {
			// The sink was deleted or created again: its dead letters
			// are the new sink's now, and this event is the old one's.
			// Left unsettled, it goes with the old consumer.
			d.keep.done(x.msg)
			d.laneDone(x)
			if d.held.Add(-1) == 0 {
				d.clearDegraded(CauseDeadLetterStore)
			}
			d.log.Error("dead letter not stored: the sink's name is not the sink's any more (deleted or created again elsewhere)",
				"event_id", id, "reason", in.Reason, "err", err)
			return
		}
		d.opts.Metrics.DeadLetterStoreFailures.WithLabelValues(d.opts.Sink.Name).Inc()
		d.setDegraded(CauseDeadLetterStore, "dead-letter store failing: "+err.Error())
		d.log.Error("DEAD LETTER NOT STORED: holding the event (not retried against the destination) until the dead-letter store works",
			"event_id", id, "reason", in.Reason, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			d.keep.done(x.msg)
			if d.held.Add(-1) == 0 {
				d.clearDegraded(CauseDeadLetterStore)
			}
			d.log.Error("shutdown while holding an event for the dead-letter store: left unsettled, JetStream redelivers it after its ack wait",
				"event_id", id)
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = d.opts.DLQ.Put(pctx, in)
		cancel()
		if err == nil {
			break
		}
		wait = min(2*wait, 30*time.Second)
	}
	d.terminate(x, in, cause)
	if d.held.Add(-1) == 0 {
		d.clearDegraded(CauseDeadLetterStore)
	}
}

// ownsSink checks, after a dead letter is written, that the sink's events
// consumer is still this incarnation's; if not, the store takes the
// record back (see deadletter.Input.Owner).
func (d *Dispatcher) ownsSink(ctx context.Context) error {
	info := d.opts.Consumers[0].CachedInfo()
	return bus.VerifyConsumer(ctx, d.opts.JS, info.Stream, info.Name, d.opts.Sink.Incarnation)
}

// terminate ends a message whose dead letter is stored.
func (d *Dispatcher) terminate(x delivery, in deadletter.Input, cause string) {
	if err := x.msg.TermWithReason(truncate(in.Reason, 200)); err != nil {
		d.log.Warn("term failed after dead-lettering", "err", err)
	}
	d.opts.Handbacks.forget(d.hardCtx, x.meta, x.handback)
	d.keep.done(x.msg)
	d.laneDone(x)
	d.opts.Metrics.Deliveries.WithLabelValues(d.opts.Sink.Name, telemetry.OutcomeDeadLetter).Inc()
	d.opts.Metrics.DeadLetters.WithLabelValues(d.opts.Sink.Name, cause).Inc()
	d.log.Error("dead-lettered", "event_id", eventID(x), "reason", in.Reason, "status", in.Status, "attempts", x.attempt)
}

func eventID(x delivery) string {
	if x.ev != nil {
		return x.ev.ID
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
