package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A record read back from the sinks bucket is trusted no more than a
// request: whoever can publish to the bucket's subjects can write one, so
// each is judged by the rules a create passes, against the config in
// force, before it may run.

// Why a record is refused: the reason label of
// switchyard_sink_records_refused_total.
const (
	refusedInvalid    = "invalid"     // the spec is not a valid sink
	refusedNotAllowed = "not_allowed" // api.allow does not allow what it uses
	refusedUnsealed   = "unsealed"    // stored in plain text though a secrets key is set
)

// stateRefused is the state of an API sink whose record is refused.
const stateRefused = "refused"

// refusal is why a stored record does not run: it breaks a rule a create
// must pass.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return "refused: " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// judgeSpec is the one judgement of an API sink's spec, for a create, a
// change and every record read back: valid as the file's sinks are, and
// within api.allow of file. reason says which rule it broke.
func (g *Gateway) judgeSpec(spec []byte, file *config.Config) (config.Sink, string, error) {
	s, err := g.loader().ParseSink(spec, file)
	if err != nil {
		return s, refusedInvalid, err
	}
	if fe := file.API.APIRestrictions(s); len(fe) > 0 {
		return s, refusedNotAllowed, fe
	}
	return s, "", nil
}

// judgeRecord judges a stored record; a refusal says why it may not run.
func (g *Gateway) judgeRecord(rec apisinks.Record, file *config.Config) (config.Sink, error) {
	if rec.Plain() && g.store.Sealer != nil {
		return config.Sink{}, &refusal{reason: refusedUnsealed, err: apisinks.ErrPlainRecord}
	}
	spec, err := apisinks.WithoutExpiredSecrets(g.kinds, rec.Spec, rec.Expiring, time.Now())
	if err != nil {
		return config.Sink{}, &refusal{reason: refusedInvalid, err: err}
	}
	s, reason, err := g.judgeSpec(spec, file)
	if reason == refusedInvalid {
		err = fmt.Errorf("invalid against the running config: %w", err)
	}
	if err != nil {
		return s, &refusal{reason: reason, err: err}
	}
	return s, nil
}

// reportRefused says, once per refusal, that a record does not run and
// why, and counts it.
func (g *Gateway) reportRefused(name string, r *refusal) {
	g.metrics.SinkRecordsRefused.WithLabelValues(r.reason).Inc()
	g.log.Warn("API sink record refused: not started", "sink", name, "reason", r.reason, "err", r.err)
}

// reportRebuilt reports the API sinks a new config judges otherwise than
// the old one did: newly refused (a narrower api.allow), or running again.
func (g *Gateway) reportRebuilt(prev, next map[string]*apiSink) {
	for name, a := range next {
		p := prev[name]
		var r *refusal
		switch {
		case errors.As(a.err, &r):
			if p == nil || p.err == nil || p.err.Error() != a.err.Error() {
				g.reportRefused(name, r)
			}
		case a.err == nil && p != nil && errors.As(p.err, &r):
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
