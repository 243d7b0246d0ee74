package gateway

import (
	"context"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/limits"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Sinks is every running sink's status, by name, and the API sinks that
// do not run (in conflict with the file, or failed): the admin API's
// sinks role, with Pause and Resume.
func (g *Gateway) Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error) {
	return g.endpoints.Statuses(ctx), nil
}

// sinkStatus is a running sink's live state; disabledBy, when set, is why
// its definition disables it (an API sink's record says).
func (g *Gateway) sinkStatus(ctx context.Context, rs *runningSink, disabledBy string) gatewayapi.SinkStatus {
	st := gatewayapi.SinkStatus{Name: rs.cfg.Name, Kind: rs.cfg.Kind(), Events: rs.cfg.Events, Tenant: rs.cfg.Tenant, Source: gatewayapi.SourceConfig,
		Delivery: rs.cfg.Delivery, State: string(rs.dispatcher.State()), StateReason: rs.dispatcher.StateReason(), InFlight: rs.dispatcher.InFlight()}
	if rs.cfg.Disabled && disabledBy != "" {
		st.StateReason = disabledBy
	}
	if rs.cfg.Disabled {
		st.State = stateDisabled
		if st.StateReason == "" || st.StateReason == disabledReason {
			st.StateReason = disabledReason
		}
	}
	st.Delivered, st.Failed = rs.dispatcher.Counts()
	// Read only while it runs: WithLabelValues would bring back the
	// series of a sink a reload removed meanwhile (ForgetSink).
	g.mu.RLock()
	if g.byName[rs.cfg.Name] == rs {
		st.LatencyP99Seconds = telemetry.Quantile(g.metrics.EventLatency.WithLabelValues(rs.cfg.Name), 0.99).Seconds()
	}
	g.mu.RUnlock()
	// One sink's trouble (a lost consumer, a failing dead-letter
	// store) shows in its own status; it never fails the whole list.
	if rs.consumer == nil {
		g.sharedBacklog(ctx, rs, &st)
	} else if info, err := rs.consumer.Info(ctx); err != nil {
		st.State, st.StateReason = string(dispatch.StateDegraded), joinReason(st.StateReason, "consumer: "+err.Error())
	} else {
		st.Pending, st.AckPending, st.Redelivered = info.NumPending, info.NumAckPending, info.NumRedelivered
		if info.Paused && st.State == string(dispatch.StateRunning) && info.Config.PauseUntil != nil {
			// Paused in JetStream, not here: pauses and disabling reach
			// every replica through the state, so this is another
			// replica's breaker, open for the sink as a whole.
			st.State = string(dispatch.StateOpen)
			st.StateReason = "another replica's breaker holds the sink until " + info.Config.PauseUntil.UTC().Format(time.RFC3339)
		}
		age := limits.OldestUnsettled(ctx, g.bus.JS, g.cfg.Stream.Name, rs.cfg.FilterSubjects(), info)
		st.OldestPendingSeconds = age.Seconds()
		if w, _ := limits.AgeWarning(age, g.cfg.Stream.MaxAge.D); w != "" {
			st.Warnings = append(st.Warnings, w)
		}
	}
	if n, err := g.dlq.Count(ctx, rs.cfg.Name); err != nil {
		st.State, st.StateReason = string(dispatch.StateDegraded), joinReason(st.StateReason, "dead letters: "+err.Error())
	} else {
		st.DeadLetters = n
	}
	ok, lastErr, lastErrAt := rs.dispatcher.Snapshot()
	if !ok.IsZero() {
		st.LastSuccess = &ok
	}
	if lastErr != "" {
		st.LastError, st.LastErrorTime = lastErr, &lastErrAt
	}
	return st
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// sharedBacklog fills in a shared sink's backlog from the deliveries
// stream: its records due and parked are pending, those it holds and
// those waiting to retry are ack-pending, as a dedicated sink's would be.
func (g *Gateway) sharedBacklog(ctx context.Context, rs *runningSink, st *gatewayapi.SinkStatus) {
	b, err := shared.ReadBacklog(ctx, g.bus.JS, rs.cfg.Incarnation)
	if err != nil {
		st.State, st.StateReason = string(dispatch.StateDegraded), joinReason(st.StateReason, "deliveries: "+err.Error())
		return
	}
	held := uint64(rs.dispatcher.Held())
	st.Pending = b.Due + b.Parked - min(held, b.Due+b.Parked)
	st.AckPending = int(held + b.Retrying)
	if !b.Oldest.IsZero() {
		age := time.Since(b.Oldest)
		st.OldestPendingSeconds = age.Seconds()
		if w, _ := limits.AgeWarning(age, g.cfg.Stream.MaxAge.D); w != "" {
			st.Warnings = append(st.Warnings, w)
		}
	}
}
