package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/replay"
)

// adminBackend is the gateway as the admin API sees it: it reads the
// running sinks, the dead-letter store and the attempt log, and acts on
// them through the gateway. The replay manager answers the replay routes
// itself.
type adminBackend struct {
	g *Gateway
	*replay.Manager
}

var _ admin.Backend = adminBackend{}

// Admin is the gateway's backend for the admin API (what Run serves);
// in-process callers such as the demo query the gateway through it too.
func (g *Gateway) Admin() admin.Backend { return adminBackend{g, g.replays} }

// Ready answers the admin API: see Gateway.Ready.
func (a adminBackend) Ready(ctx context.Context) error { return a.g.Ready(ctx) }

// Pause answers the admin API: see Gateway.Pause.
func (a adminBackend) Pause(ctx context.Context, sink, reason string) error {
	return a.g.Pause(ctx, sink, reason)
}

// Resume answers the admin API: see Gateway.Resume.
func (a adminBackend) Resume(ctx context.Context, sink string) error { return a.g.Resume(ctx, sink) }

// RunningConfig answers the admin API: the config in force, redacted.
func (a adminBackend) RunningConfig() *config.Config {
	a.g.mu.RLock()
	defer a.g.mu.RUnlock()
	return config.Redacted(a.g.cfg)
}

// Sinks answers the admin API: every running sink's status, by name,
// and the API sinks that do not run (in conflict with the file, or failed).
func (a adminBackend) Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error) {
	g := a.g
	out := []gatewayapi.SinkStatus{}
	for _, name := range g.sinkNames("") {
		g.mu.RLock()
		rs := g.byName[name]
		api, isAPI := g.api[name]
		g.mu.RUnlock()
		switch {
		case rs != nil:
			out = append(out, g.sinkStatus(ctx, rs))
		case isAPI && api.Err != nil:
			v, err := g.sinkView(ctx, name)
			if err != nil {
				continue
			}
			b, _ := json.Marshal(v)
			var st gatewayapi.SinkStatus
			_ = json.Unmarshal(b, &st)
			out = append(out, st)
		}
	}
	return out, nil
}

// sinkStatus is a running sink's live state.
func (g *Gateway) sinkStatus(ctx context.Context, rs *runningSink) gatewayapi.SinkStatus {
	st := gatewayapi.SinkStatus{Name: rs.cfg.Name, Kind: rs.cfg.Kind(), Events: rs.cfg.Events, Tenant: rs.cfg.Tenant, Source: gatewayapi.SourceConfig,
		State: string(rs.dispatcher.State()), StateReason: rs.dispatcher.StateReason(), InFlight: rs.dispatcher.InFlight()}
	g.mu.RLock()
	if a, ok := g.api[rs.cfg.Name]; ok && a.Err == nil {
		st.Source = gatewayapi.SourceAPI
		if rs.cfg.Disabled && a.Rec.Reason != "" {
			st.StateReason = a.Rec.Reason
		}
	}
	g.mu.RUnlock()
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
		st.LatencyP99Seconds = quantile(g.metrics.EventLatency.WithLabelValues(rs.cfg.Name), 0.99).Seconds()
	}
	g.mu.RUnlock()
	// One sink's trouble (a lost consumer, a failing dead-letter
	// store) shows in its own status; it never fails the whole list.
	if info, err := rs.consumer.Info(ctx); err != nil {
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
		age := g.oldestUnsettled(ctx, rs, info)
		st.OldestPendingSeconds = age.Seconds()
		if w, _ := g.ageWarning(age); w != "" {
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

// DeadLetters answers the admin API.
func (a adminBackend) DeadLetters(ctx context.Context, name string, f deadletter.Filter) ([]deadletter.Record, error) {
	g := a.g
	if _, err := g.sink(name); err != nil {
		return nil, err
	}
	return g.dlq.List(ctx, name, f)
}

// Redrive answers the admin API.
func (a adminBackend) Redrive(ctx context.Context, name string, f deadletter.Filter) (int, error) {
	g := a.g
	if _, err := g.sink(name); err != nil {
		return 0, err
	}
	return g.dlq.Redrive(ctx, name, f)
}

// PurgeDeadLetters answers the admin API.
func (a adminBackend) PurgeDeadLetters(ctx context.Context, name string, f deadletter.Filter) (int, error) {
	g := a.g
	if _, err := g.sink(name); err != nil {
		return 0, err
	}
	return g.dlq.Purge(ctx, name, f)
}

// ErrAttemptLogOff is returned by attempt queries when the log is disabled.
var ErrAttemptLogOff = errors.New("the attempt log is off (attempts.enabled: false)")

// Attempts answers the admin API.
func (a adminBackend) Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error) {
	g := a.g
	if g.attempts == nil {
		return nil, ErrAttemptLogOff
	}
	if q.Sink != "" && q.Incarnation == "" {
		// The log is kept by name: a sink deleted and created again
		// shows only its own attempts.
		q.Incarnation = g.incarnationOf(q.Sink)
	}
	return g.attempts.Find(ctx, q)
}

// incarnationOf is the incarnation of the sink called name as this
// replica runs or stores it, "" when there is none (deleted).
func (g *Gateway) incarnationOf(name string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if rs := g.byName[name]; rs != nil {
		return rs.cfg.Incarnation
	}
	if a := g.api[name]; a != nil {
		return a.Rec.Incarnation(name)
	}
	return ""
}

// Event answers the admin API: the event as the stream holds it, and
// every attempt to deliver it, across sinks.
func (a adminBackend) Event(ctx context.Context, id string) (*gatewayapi.EventView, error) {
	g := a.g
	if g.attempts == nil {
		return nil, ErrAttemptLogOff
	}
	recs, err := g.attempts.Find(ctx, attempts.Query{EventID: id})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no attempt logged for event %q", gatewayapi.ErrNotFound, id)
	}
	v := &gatewayapi.EventView{ID: id, Type: recs[0].Type, Attempts: recs}
	if stream, err := g.bus.JS.Stream(ctx, recs[0].Stream); err == nil {
		if m, err := stream.GetMsg(ctx, recs[0].StreamSeq); err == nil {
			v.Subject, v.Data, v.Headers, v.Time = m.Subject, m.Data, m.Header, m.Time
		}
	}
	return v, nil
}

// ListSinks answers the admin API.
func (a adminBackend) ListSinks(ctx context.Context, q gatewayapi.SinkQuery) (gatewayapi.SinkPage, error) {
	return a.g.ListSinks(ctx, q)
}

// GetSink answers the admin API.
func (a adminBackend) GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	return a.g.GetSink(ctx, name)
}

// CreateSink answers the admin API.
func (a adminBackend) CreateSink(ctx context.Context, body []byte, actor string) (gatewayapi.SinkView, error) {
	return a.g.CreateSink(ctx, body, actor)
}

// PatchSink answers the admin API.
func (a adminBackend) PatchSink(ctx context.Context, name string, patch []byte, actor string) (gatewayapi.SinkView, error) {
	return a.g.PatchSink(ctx, name, patch, actor)
}

// DeleteSink answers the admin API.
func (a adminBackend) DeleteSink(ctx context.Context, name, actor string) error {
	return a.g.DeleteSink(ctx, name, actor)
}

// RotateSecret answers the admin API.
func (a adminBackend) RotateSecret(ctx context.Context, name string, grace time.Duration, actor string) (gatewayapi.RotateResult, error) {
	return a.g.RotateSecret(ctx, name, grace, actor)
}

// TestSink answers the admin API.
func (a adminBackend) TestSink(ctx context.Context, name string, req gatewayapi.TestRequest) (gatewayapi.TestResult, error) {
	return a.g.TestSink(ctx, name, req)
}

// SinkHistory answers the admin API.
func (a adminBackend) SinkHistory(ctx context.Context, name string) ([]gatewayapi.SinkRevision, error) {
	return a.g.SinkHistory(ctx, name)
}
