package dispatch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// settle decides the fate of one attempted message. Every path ends in
// exactly one of Ack, NakWithDelay, Nak (shutdown only) or Term. It
// returns the outcome, as the metrics and the attempt log name it.
func (d *Dispatcher) settle(ctx context.Context, x delivery, err error) string {
	name := d.opts.Sink.Name
	log := d.log.With("event_id", x.ev.ID, "type", x.ev.Type, "attempt", x.attempt)
	if err == nil {
		d.delivered.Add(1)
		if aerr := x.msg.Ack(); aerr != nil {
			log.Warn("ack failed; the event may be delivered again", "err", aerr)
		}
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeDelivered).Inc()
		d.opts.Metrics.EventLatency.WithLabelValues(name).Observe(time.Since(x.meta.Timestamp).Seconds())
		d.status.mu.Lock()
		d.status.LastSuccess = time.Now()
		d.status.mu.Unlock()
		log.Debug("delivered")
		return telemetry.OutcomeDelivered
	}
	c := sink.Classify(err)
	if c.Class != sink.Canceled {
		d.failed.Add(1)
		d.status.mu.Lock()
		d.status.LastError, d.status.LastErrorAt = err.Error(), time.Now()
		d.status.mu.Unlock()
	}
	last := x.attempt >= d.opts.Sink.Retry.Attempts()
	switch {
	case c.Class == sink.Canceled:
		// Shutdown, not the destination's fault: hand it back at once.
		_ = x.msg.Nak()
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeCanceled).Inc()
		log.Info("delivery interrupted by shutdown; handed back to JetStream")
		return telemetry.OutcomeCanceled
	case c.Class == sink.Permanent:
		return d.deadLetter(ctx, x, err.Error(), c.Status, "permanent")
	case last:
		return d.deadLetter(ctx, x, fmt.Sprintf("gave up after %d attempts: %v", x.attempt, err), c.Status, "attempts_exhausted")
	case c.Class == sink.RateLimited:
		delay := min(c.RetryAfter, d.opts.Sink.Retry.MaxRetryAfter.D)
		d.nakWithDelay(x, delay)
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeRateLimited).Inc()
		log.Warn("rate limited; retrying when the receiver asked", "status", c.Status, "retry_in", delay, "err", err)
		return telemetry.OutcomeRateLimited
	default:
		delay := d.backoff(x.attempt)
		d.nakWithDelay(x, delay)
		d.opts.Metrics.Deliveries.WithLabelValues(name, telemetry.OutcomeRetried).Inc()
		log.Warn("delivery failed; will retry", "status", c.Status, "retry_in", delay, "err", err)
		return telemetry.OutcomeRetried
	}
}

func (d *Dispatcher) nakWithDelay(x delivery, delay time.Duration) {
	if err := x.msg.NakWithDelay(delay); err != nil {
		// Without the nak, AckWait/BackOff still bring the message back.
		d.log.Warn("nak failed; JetStream will redeliver after its ack wait", "event_id", x.ev.ID, "err", err)
	}
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
		return base
	}
	return time.Duration(float64(base) * (1 + j*(2*rand.Float64()-1)))
}

// deadLetter stores the message in the dead-letter stream, then terminates
// it. If the store fails the message is not terminated: it comes back
// later and is judged again, so nothing is dropped.
func (d *Dispatcher) deadLetter(ctx context.Context, x delivery, reason string, status int, cause string) string {
	if err := d.opts.DLQ.Put(ctx, deadletter.Input{Sink: d.opts.Sink.Name, Msg: x.msg, Meta: x.meta, Event: x.ev,
		Reason: reason, Status: status, Attempts: x.attempt}); err != nil {
		d.log.Error("dead letter not stored; message kept for redelivery", "reason", reason, "err", err)
		_ = x.msg.NakWithDelay(d.backoff(1))
		return telemetry.OutcomeRetried
	}
	if err := x.msg.TermWithReason(truncate(reason, 200)); err != nil {
		d.log.Warn("term failed after dead-lettering", "err", err)
	}
	d.opts.Metrics.Deliveries.WithLabelValues(d.opts.Sink.Name, telemetry.OutcomeDeadLetter).Inc()
	d.opts.Metrics.DeadLetters.WithLabelValues(d.opts.Sink.Name, cause).Inc()
	id := ""
	if x.ev != nil {
		id = x.ev.ID
	}
	d.log.Error("dead-lettered", "event_id", id, "reason", reason, "status", status, "attempts", x.attempt)
	return telemetry.OutcomeDeadLetter
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
