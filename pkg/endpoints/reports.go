package endpoints

import (
	"errors"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
)

// stateRefused is the state of an API sink whose record is refused
// (apisinks.JudgeRecord).
const stateRefused = "refused"

// reportRefused says, once per refusal, that a record does not run and
// why, and counts it.
func (e *Endpoints) reportRefused(name string, r *apisinks.Refusal) {
	e.metrics.SinkRecordsRefused.WithLabelValues(r.Reason).Inc()
	e.log.Warn("API sink record refused: not started", "sink", name, "reason", r.Reason, "err", r.Err)
}

// reportRebuilt reports the API sinks a new config judges otherwise than
// the old one did: newly refused (a narrower api.allow), or running again.
func (e *Endpoints) reportRebuilt(prev, next map[string]*apisinks.Sink) {
	for name, a := range next {
		p := prev[name]
		var r *apisinks.Refusal
		switch {
		case errors.As(a.Err, &r):
			if p == nil || p.Err == nil || p.Err.Error() != a.Err.Error() {
				e.reportRefused(name, r)
			}
		case a.Err == nil && p != nil && errors.As(p.Err, &r):
			e.log.Info("API sink passes the rules again: started", "sink", name)
		}
	}
}

// reportUnstarted says once, loudly, why an API sink does not run.
func (e *Endpoints) reportUnstarted(name string, a *apisinks.Sink) {
	var r *apisinks.Refusal
	if errors.As(a.Err, &r) {
		e.reportRefused(name, r)
		return
	}
	if errors.Is(a.Err, apisinks.ErrNameInFile) {
		e.log.Error("API sink not started: its name is taken by a sink in the config file", "sink", name)
		return
	}
	e.log.Error("API sink not started", "sink", name, "err", a.Err)
}
