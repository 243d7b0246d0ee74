package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
)

// StateSubject is where a sink's state changes are published, for
// operators' alerting: switchyard.sink.<name>.state.
func StateSubject(sink string) string { return "switchyard.sink." + sink + ".state" }

// StateEvent is the body of a state change message.
type StateEvent struct {
	Sink   string     `json:"sink"`
	From   State      `json:"from"`
	To     State      `json:"to"`
	Reason string     `json:"reason,omitempty"`
	Until  *time.Time `json:"until,omitempty"` // end of the breaker's cool-down
	Time   time.Time  `json:"time"`
}

// Pause stops deliveries: JetStream stops handing the sink's consumers
// messages, and batches already pulled wait (without an attempt) until
// Resume. It reports whether anything changed.
func (d *Dispatcher) Pause(reason string) bool { return d.gate.setPaused(true, reason) }

// Resume undoes Pause.
func (d *Dispatcher) Resume() bool { return d.gate.setPaused(false, "") }

// farFuture pauses a consumer "until resumed".
var farFuture = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)

// stateChanged makes a state change visible: the consumers are paused or
// resumed in JetStream (so no replica pulls for the sink), and the change is
// logged, counted and published on StateSubject.
func (d *Dispatcher) stateChanged(from, to State, reason string, until time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch to {
	case StatePaused:
		d.pauseConsumers(ctx, farFuture)
	case StateOpen:
		d.pauseConsumers(ctx, until)
		// JetStream resumes the consumers when the cool-down ends; say so,
		// in that change's turn (a probe may answer first).
		t := time.AfterFunc(time.Until(until), func() { d.gate.coolDownOver(until) })
		d.setCoolDownTimer(t)
	case StateRunning, StateHalfOpen:
		if from == StatePaused {
			d.resumeConsumers(ctx)
		}
	}
	d.announce(from, to, reason, until)
}

func (d *Dispatcher) announce(from, to State, reason string, until time.Time) {
	name := d.opts.Sink.Name
	for _, s := range []State{StateRunning, StatePaused, StateOpen, StateHalfOpen, StateDegraded} {
		v := 0.0
		if s == to {
			v = 1
		}
		d.opts.Metrics.SinkState.WithLabelValues(name, string(s)).Set(v)
	}
	d.opts.Metrics.StateChanges.WithLabelValues(name, string(to)).Inc()
	d.log.Warn("sink state changed", "from", from, "to", to, "reason", reason)
	ev := StateEvent{Sink: name, From: from, To: to, Reason: reason, Time: time.Now().UTC()}
	if !until.IsZero() {
		ev.Until = &until
	}
	b, _ := json.Marshal(ev)
	if nc := d.opts.JS.Conn(); nc != nil {
		if err := nc.Publish(StateSubject(name), b); err != nil {
			d.log.Warn("state event not published", "err", err)
		}
	}
}

func (d *Dispatcher) pauseConsumers(ctx context.Context, until time.Time) {
	for _, c := range d.opts.Consumers {
		info := c.CachedInfo()
		if !d.stillOwns(ctx, info) {
			continue
		}
		// Tried again within ctx: a consumer leader being elected answers
		// with a timeout, and a pause that does not reach JetStream holds
		// back only this replica, not the sink.
		for {
			_, err := d.opts.JS.PauseConsumer(ctx, info.Stream, info.Name, until)
			if err == nil {
				break
			}
			passing := errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded)
			if ctx.Err() != nil || !passing {
				d.log.Warn("pause consumer", "consumer", info.Name, "err", err)
				break
			}
			sleep(ctx, nil, 250*time.Millisecond)
		}
	}
}

// stillOwns says whether the consumer named by info is still this sink
// incarnation's. A pause goes to JetStream by the consumer's name: a
// sink deleted and created again elsewhere must not pause (or resume)
// the new sink's consumer of that name. Not knowing (the consumer gone
// or not answering), it says yes, as for a sink without an incarnation:
// only a consumer known to be another sink's is spared, so a check that
// cannot answer never leaves a pause unapplied.
func (d *Dispatcher) stillOwns(ctx context.Context, info *jetstream.ConsumerInfo) bool {
	if d.opts.Sink.Incarnation == "" {
		return true
	}
	err := bus.VerifyConsumer(ctx, d.opts.JS, info.Stream, info.Name, d.opts.Sink.Incarnation)
	if errors.Is(err, bus.ErrSinkReplaced) {
		d.log.Warn("consumer not paused or resumed: it is another sink's of the same name now", "consumer", info.Name, "err", err)
		return false
	}
	return true
}

// resumeConsumers lets the consumers deliver again. It re-pauses them
// until a moment from now rather than calling ResumeConsumer: nats-server
// 2.15 does not wake a consumer's delivery loop on an explicit resume, so
// messages published during the pause would wait for the next publish or
// pull; a pause that expires on its own does wake it.
func (d *Dispatcher) resumeConsumers(ctx context.Context) {
	for _, c := range d.opts.Consumers {
		info := c.CachedInfo()
		if !d.stillOwns(ctx, info) {
			continue
		}
		if _, err := d.opts.JS.PauseConsumer(ctx, info.Stream, info.Name, time.Now().Add(20*time.Millisecond)); err != nil {
			d.log.Warn("resume consumer", "consumer", info.Name, "err", err)
		}
	}
}

// LiftIndefinitePause resumes the consumers that a previous dispatcher
// paused "until resumed" (a pause or a disabled definition since lifted
// while no dispatcher of this sink ran, or a swap from a disabled
// definition): such a pause outlives the dispatcher that set it. A
// breaker's cool-down pause, which ends on its own, is left alone.
func (d *Dispatcher) LiftIndefinitePause(ctx context.Context) {
	if d.gate.State() == StatePaused {
		return
	}
	horizon := time.Now().AddDate(100, 0, 0)
	for _, c := range d.opts.Consumers {
		info, err := c.Info(ctx)
		if err != nil {
			d.log.Warn("consumer info", "err", err)
			continue
		}
		if info.Config.PauseUntil == nil || info.Config.PauseUntil.Before(horizon) {
			continue
		}
		if bus.CheckIncarnation(info, d.opts.Sink.Incarnation) != nil {
			continue // another sink's pause, under the same name
		}
		if _, err := d.opts.JS.PauseConsumer(ctx, info.Stream, info.Name, time.Now().Add(20*time.Millisecond)); err != nil {
			d.log.Warn("resume consumer", "consumer", info.Name, "err", err)
		}
	}
}

// setCoolDownTimer keeps the one pending cool-down announcement, so that a
// newer one replaces it and Run's end stops it.
func (d *Dispatcher) setCoolDownTimer(t *time.Timer) {
	d.timerMu.Lock()
	defer d.timerMu.Unlock()
	if d.coolDown != nil {
		d.coolDown.Stop()
	}
	d.coolDown = t
}
