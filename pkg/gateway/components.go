package gateway

import "github.com/switchyard-dev/switchyard/pkg/ackfloor"

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
