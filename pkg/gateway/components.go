package gateway

import (
	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/limits"
)

// ackFloorSinks shows the ack-floor recorder the running sinks.
type ackFloorSinks struct{ g *Gateway }

func (a ackFloorSinks) AckFloorSinks() []ackfloor.Sink {
	return sinkViews(a.g, func(rs *runningSink) ackfloor.Sink {
		ok, failed := rs.dispatcher.Counts()
		return ackfloor.Sink{Name: rs.cfg.Name, Incarnation: rs.cfg.Incarnation, Settled: ok + failed, Consumer: rs.consumer}
	})
}

// limitSinks shows the limits watcher the running sinks.
type limitSinks struct{ g *Gateway }

func (l limitSinks) LimitSinks() []limits.Sink {
	return sinkViews(l.g, func(rs *runningSink) limits.Sink {
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

// sinkViews is the running sinks as a component sees them, one view each.
func sinkViews[T any](g *Gateway, view func(*runningSink) T) []T {
	list := g.sinkList()
	out := make([]T, 0, len(list))
	for _, rs := range list {
		out = append(out, view(rs))
	}
	return out
}
