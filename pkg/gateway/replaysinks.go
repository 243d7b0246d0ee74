package gateway

import (
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/replay"
)

// replaySinks lends the running sinks to the replay manager.
type replaySinks struct{ g *Gateway }

// Hold holds reloadMu while fn runs: a reload hands the replays it
// registers over (replay.Manager.HandOff).
func (s replaySinks) Hold(name string, fn func(config.Sink, replay.Dispatcher) error) error {
	s.g.reloadMu.Lock()
	defer s.g.reloadMu.Unlock()
	rs, err := s.g.sink(name)
	if err != nil {
		return err
	}
	return fn(rs.cfg, rs.dispatcher)
}

// replayDispatchers are the dispatchers of the sinks a reload rebuilt.
func replayDispatchers(fresh map[string]*runningSink) map[string]replay.Dispatcher {
	out := make(map[string]replay.Dispatcher, len(fresh))
	for name, rs := range fresh {
		out[name] = rs.dispatcher
	}
	return out
}
