package gateway

import (
	"context"
	"errors"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// apiSink is an API sink as this replica knows it.
type apiSink struct {
	rec  apisinks.Record // Spec unsealed
	rev  uint64
	sink config.Sink // as it runs: validated, expired secrets dropped
	// err says why the sink does not run: its name is taken by the config
	// file (errConflict), or it is invalid against the running config.
	err error
}

// errConflict marks an API sink whose name a config-file sink took.
var errConflict = errors.New("a sink of the same name is defined in the config file, which wins")

// loader judges sinks with the kinds the gateway opens.
func (g *Gateway) loader() config.Loader { return config.Loader{Kinds: g.kinds} }

// buildAPISink judges a stored sink against the file config by the rules
// a create passes (apisinks.JudgeRecord).
func (g *Gateway) buildAPISink(name string, rec apisinks.Record, rev uint64, file *config.Config) *apiSink {
	a := &apiSink{rec: rec, rev: rev}
	for _, s := range file.Sinks {
		if s.Name == name {
			a.err = errConflict
			return a
		}
	}
	if a.sink, a.err = apisinks.JudgeRecord(g.kinds, g.store.Sealer != nil, rec, file); a.err == nil {
		a.sink.Incarnation = rec.Incarnation(name)
	}
	return a
}

// rebuildAPISinks judges every API sink again against a new file config.
func (g *Gateway) rebuildAPISinks(file *config.Config) map[string]*apiSink {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make(map[string]*apiSink, len(g.api))
	for name, a := range g.api {
		if a.err != nil && len(a.rec.Spec) == 0 {
			out[name] = a // unreadable: nothing to judge again
			continue
		}
		out[name] = g.buildAPISink(name, a.rec, a.rev, file)
	}
	return out
}

// effective is the config the gateway runs: the file's sinks, then the
// API sinks that may run, by name.
func (g *Gateway) effective(file *config.Config, api map[string]*apiSink) *config.Config {
	next := *file
	next.Sinks = make([]config.Sink, 0, len(file.Sinks)+len(api))
	for _, s := range file.Sinks {
		s.Incarnation = apisinks.FileIncarnation(s.Name)
		next.Sinks = append(next.Sinks, s)
	}
	names := make([]string, 0, len(api))
	for name, a := range api {
		if a.err == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		next.Sinks = append(next.Sinks, api[name].sink)
	}
	return &next
}

// loadAPISinks reads every API sink at start.
func (g *Gateway) loadAPISinks(ctx context.Context) error {
	if err := g.store.SealPlain(ctx); err != nil {
		return err
	}
	entries, err := g.store.All(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		g.api[e.Name] = g.entryToSink(e)
	}
	for name, a := range g.api {
		if a.err != nil {
			g.reportUnstarted(name, a)
		}
	}
	return nil
}

func (g *Gateway) entryToSink(e apisinks.Entry) *apiSink {
	if e.Err != nil {
		return &apiSink{rev: e.Rev, err: e.Err}
	}
	return g.buildAPISink(e.Name, e.Rec, e.Rev, g.fileCfg)
}

// reportUnstarted says once, loudly, why an API sink does not run.
func (g *Gateway) reportUnstarted(name string, a *apiSink) {
	var r *apisinks.Refusal
	if errors.As(a.err, &r) {
		g.reportRefused(name, r)
		return
	}
	if errors.Is(a.err, errConflict) {
		g.log.Error("API sink not started: its name is taken by a sink in the config file", "sink", name)
		return
	}
	g.log.Error("API sink not started", "sink", name, "err", a.err)
}

// apiWatch is the gateway as the target of the sinks bucket's watch
// (apisinks.Store.Watch): it applies each change through the reload path.
type apiWatch struct{ g *Gateway }

// Known lists the API sinks this replica has.
func (w apiWatch) Known() []string {
	w.g.mu.RLock()
	defer w.g.mu.RUnlock()
	names := make([]string, 0, len(w.g.api))
	for name := range w.g.api {
		names = append(names, name)
	}
	return names
}

func (w apiWatch) Apply(ctx context.Context, c apisinks.Change) { w.g.applyAPIChange(ctx, c) }

// applyAPIChange runs a change of an API sink (c.Deleted: deleted)
// through the reload path, unless this replica already has it.
func (g *Gateway) applyAPIChange(ctx context.Context, c apisinks.Change) {
	name, rev := c.Name, c.Rev
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.mu.RLock()
	cur, had := g.api[name]
	g.mu.RUnlock()
	if had && rev != 0 && cur.rev >= rev || !had && c.Deleted {
		return
	}
	if !c.Deleted && rev != 0 && g.superseded(ctx, name, rev) {
		return
	}
	var next *apiSink
	if !c.Deleted {
		switch {
		case c.Err != nil:
			next = &apiSink{rev: rev, err: c.Err}
		case c.Rec.Op == "delete":
			// The revision before a tombstone, saying who deleted it.
			if !had {
				return
			}
		default:
			next = g.buildAPISink(name, c.Rec, rev, g.fileCfg)
		}
	}
	if err := g.swapAPISinkLocked(ctx, name, next); err != nil {
		g.log.Error("apply API sink", "sink", name, "err", err)
	}
}

// superseded reports whether revision rev of an API sink is no longer its
// latest: the watch delivers it after the sink was changed again or
// deleted (by this very replica, say). Applying it would bring a deleted
// sink back, and make its consumer again after the delete cleaned the
// name; what superseded it follows in the watch. Not knowing, it is
// applied, as before.
func (g *Gateway) superseded(ctx context.Context, name string, rev uint64) bool {
	latest, err := g.store.Revision(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true
	}
	return err == nil && latest > rev
}

// swapAPISinkLocked makes next (nil: none) the API sink called name and
// applies the result through the reload path. reloadMu is held.
func (g *Gateway) swapAPISinkLocked(ctx context.Context, name string, next *apiSink) error {
	g.mu.RLock()
	api := make(map[string]*apiSink, len(g.api)+1)
	for n, a := range g.api {
		api[n] = a
	}
	file := g.fileCfg
	g.mu.RUnlock()
	if next == nil {
		delete(api, name)
	} else {
		api[name] = next
		if next.err != nil {
			g.reportUnstarted(name, next)
		}
	}
	if g.runCtx == nil || !g.running.Load() {
		return ErrNotRunning
	}
	// The record is in place before the sinks swap, so a read never
	// pairs a new sink with its old record.
	g.mu.Lock()
	prev := g.api
	g.api = api
	g.mu.Unlock()
	restore := func() {
		g.mu.Lock()
		g.api = prev
		g.mu.Unlock()
	}
	_, err := g.applyLocked(ctx, g.effective(file, api), false)
	if err != nil && next != nil && next.err == nil {
		// It could not start (its consumer could not be made): it shows
		// as failed, and the rest of the sinks stay as they are.
		next.err = err
		if _, err2 := g.applyLocked(ctx, g.effective(file, api), false); err2 != nil {
			restore()
			return err2
		}
	} else if err != nil {
		restore()
		return err
	}
	g.apiChanged()
	return err
}

// apiChanged follows a change of the API sinks: it counts those that do
// not run, and shows them to the rotation expiry, which ends the grace of
// the earliest rotated-out secret when it expires.
func (g *Gateway) apiChanged() {
	g.mu.Lock()
	defer g.mu.Unlock()
	conflicts, refused, failed := 0, 0, 0
	var r *apisinks.Refusal
	pending := make(map[string]apisinks.Pending, len(g.api))
	for name, a := range g.api {
		switch {
		case errors.Is(a.err, errConflict):
			conflicts++
		case errors.As(a.err, &r):
			refused++
		case a.err != nil:
			failed++
		}
		pending[name] = apisinks.Pending{Rev: a.rev, Expiring: a.rec.Expiring}
	}
	g.metrics.APISinksNotRunning.WithLabelValues("conflict").Set(float64(conflicts))
	g.metrics.APISinksNotRunning.WithLabelValues("refused").Set(float64(refused))
	g.metrics.APISinksNotRunning.WithLabelValues("failed").Set(float64(failed))
	g.expiry.Schedule(pending)
}
