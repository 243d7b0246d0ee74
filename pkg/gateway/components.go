package gateway

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/autodisable"
	"github.com/switchyard-dev/switchyard/pkg/limits"
)

// The components' views of the gateway: each sees the running sinks
// through the narrow interface its package states.

// sinkViews is the running sinks as a component sees them, one view each.
func sinkViews[T any](g *Gateway, view func(*runningSink) T) []T {
	list := g.sinkList()
	out := make([]T, 0, len(list))
	for _, rs := range list {
		out = append(out, view(rs))
	}
	return out
}

// dedicatedViews is sinkViews of the sinks with consumers of their own.
func dedicatedViews[T any](g *Gateway, view func(*runningSink) T) []T {
	list := g.sinkList()
	out := make([]T, 0, len(list))
	for _, rs := range list {
		if rs.consumer != nil {
			out = append(out, view(rs))
		}
	}
	return out
}

// ackFloorSinks shows the ack-floor recorder the running sinks.
type ackFloorSinks struct{ g *Gateway }

func (a ackFloorSinks) AckFloorSinks() []ackfloor.Sink {
	return dedicatedViews(a.g, func(rs *runningSink) ackfloor.Sink {
		ok, failed := rs.dispatcher.Counts()
		return ackfloor.Sink{Name: rs.cfg.Name, Incarnation: rs.cfg.Incarnation, Settled: ok + failed, Consumer: rs.consumer}
	})
}

// limitSinks shows the limits watcher the running sinks.
type limitSinks struct{ g *Gateway }

func (l limitSinks) LimitSinks() []limits.Sink {
	return dedicatedViews(l.g, func(rs *runningSink) limits.Sink {
		return limits.Sink{Name: rs.cfg.Name, Filters: rs.cfg.FilterSubjects(), Consumer: rs.consumer,
			SetRatio: func(ratio float64) {
				// Only while it runs: a reload that removed it meanwhile
				// has deleted its series (ForgetSink, after the swap under g.mu).
				l.g.mu.RLock()
				defer l.g.mu.RUnlock()
				if l.g.byName[rs.cfg.Name] == rs {
					l.g.metrics.OldestPendingRatio.WithLabelValues(rs.cfg.Name).Set(ratio)
				}
			}}
	})
}

// failingSinks shows the auto-disable watcher the running sinks, and
// disables them: an API sink's definition gets disabled: true, a file
// sink (whose definition the gateway cannot change) is paused.
type failingSinks struct{ g *Gateway }

// AutoDisableSinks implements autodisable.Sinks.
func (f failingSinks) AutoDisableSinks() []autodisable.Sink {
	return sinkViews(f.g, func(rs *runningSink) autodisable.Sink {
		return autodisable.Sink{Name: rs.cfg.Name, After: rs.cfg.DisableAfter.D, Disabled: rs.cfg.Disabled, Dispatcher: rs.dispatcher}
	})
}

func (f failingSinks) Disable(ctx context.Context, name, reason string) error {
	isAPI, err := f.g.endpoints.Disable(ctx, name, reason)
	if !isAPI {
		return f.g.Pause(ctx, name, reason)
	}
	return err
}

// pauseTarget applies the pauses made through other replicas.
type pauseTarget struct{ g *Gateway }

func (p pauseTarget) Paused(name, reason string) {
	if rs, err := p.g.sink(name); err == nil {
		rs.dispatcher.Pause(reason)
	}
}

func (p pauseTarget) Resumed(name string) {
	if rs, err := p.g.sink(name); err == nil && !rs.cfg.Disabled {
		rs.dispatcher.Resume()
	}
}
