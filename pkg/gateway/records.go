package gateway

import (
	"errors"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
)

// stateRefused is the state of an API sink whose record is refused
// (apisinks.JudgeRecord).
const stateRefused = "refused"

// reportRefused says, once per refusal, that a record does not run and
// why, and counts it.
func (g *Gateway) reportRefused(name string, r *apisinks.Refusal) {
	g.metrics.SinkRecordsRefused.WithLabelValues(r.Reason).Inc()
	g.log.Warn("API sink record refused: not started", "sink", name, "reason", r.Reason, "err", r.Err)
}

// reportRebuilt reports the API sinks a new config judges otherwise than
// the old one did: newly refused (a narrower api.allow), or running again.
func (g *Gateway) reportRebuilt(prev, next map[string]*apiSink) {
	for name, a := range next {
		p := prev[name]
		var r *apisinks.Refusal
		switch {
		case errors.As(a.Err, &r):
			if p == nil || p.Err == nil || p.Err.Error() != a.Err.Error() {
				g.reportRefused(name, r)
			}
		case a.Err == nil && p != nil && errors.As(p.Err, &r):
			g.log.Info("API sink passes the rules again: started", "sink", name)
		}
	}
}

// withoutAPISinks drops from names the API sinks still stored: one that a
// reload refuses (a narrower api.allow) keeps its backlog until it
// complies again; only its delete removes it.
func (g *Gateway) withoutAPISinks(names []string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(names))
	for _, n := range names {
		if _, ok := g.api[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}
