package gateway

import (
	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/limits"
)

// ackFloorSinks shows the ack-floor recorder the running sinks.
type ackFloorSinks struct{ g *Gateway }

func (a ackFloorSinks) AckFloorSinks() []ackfloor.Sink {
	list := a.g.sinkList()
	out := make([]ackfloor.Sink, 0, len(list))
	for _, rs := range list {
		ok, failed := rs.dispatcher.Counts()
		out = append(out, ackfloor.Sink{Name: rs.cfg.Name, Incarnation: rs.cfg.Incarnation, Settled: ok + failed, Consumer: rs.consumer})
	}
	return out
}

// limitSinks shows the limits watcher the running sinks.
type limitSinks struct{ g *Gateway }

func (l limitSinks) LimitSinks() []limits.Sink {
	list := l.g.sinkList()
	out := make([]limits.Sink, 0, len(list))
	for _, rs := range list {
		out = append(out, limits.Sink{Name: rs.cfg.Name, Filters: rs.cfg.FilterSubjects(), Consumer: rs.consumer,
			SetRatio: func(ratio float64) {
				// Only while it runs: a reload that removed it meanwhile
				// has deleted its series (ForgetSink, after the swap under g.mu).
				l.g.mu.RLock()
				defer l.g.mu.RUnlock()
				if l.g.byName[rs.cfg.Name] == rs {
					l.g.metrics.OldestPendingRatio.WithLabelValues(rs.cfg.Name).Set(ratio)
				}
			}})
	}
	return out
}
