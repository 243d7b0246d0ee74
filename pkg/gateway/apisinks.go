package gateway

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// apiSink is an API sink as this replica knows it.
type apiSink = apisinks.Sink

// loader judges sinks with the kinds the gateway opens.
func (g *Gateway) loader() config.Loader { return config.Loader{Kinds: g.kinds} }

// buildAPISink judges a stored sink against the file config by the rules
// a create passes (apisinks.Build).
func (g *Gateway) buildAPISink(name string, rec apisinks.Record, rev uint64, file *config.Config) *apiSink {
	return apisinks.Build(g.kinds, g.store.Sealer != nil, name, rec, rev, file)
}

// rebuildAPISinks judges every API sink again against a new file config.
func (g *Gateway) rebuildAPISinks(file *config.Config) map[string]*apiSink {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return apisinks.Rebuild(g.kinds, g.store.Sealer != nil, g.api, file)
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
		if a.Err != nil {
			g.reportUnstarted(name, a)
		}
	}
	return nil
}

func (g *Gateway) entryToSink(e apisinks.Entry) *apiSink {
	return apisinks.FromEntry(g.kinds, g.store.Sealer != nil, e, g.fileCfg)
}

// reportUnstarted says once, loudly, why an API sink does not run.
func (g *Gateway) reportUnstarted(name string, a *apiSink) {
	var r *apisinks.Refusal
	if errors.As(a.Err, &r) {
		g.reportRefused(name, r)
		return
	}
	if errors.Is(a.Err, apisinks.ErrNameInFile) {
		g.log.Error("API sink not started: its name is taken by a sink in the config file", "sink", name)
		return
	}
	g.log.Error("API sink not started", "sink", name, "err", a.Err)
}

// apiWatch is the gateway as the target of the sinks bucket's watch
// (apisinks.Watcher): it applies each change through the reload path.
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
	if had && rev != 0 && cur.Rev >= rev || !had && c.Deleted {
		return
	}
	if !c.Deleted && rev != 0 && g.superseded(ctx, name, rev) {
		return
	}
	var next *apiSink
	if !c.Deleted {
		switch {
		case c.Err != nil:
			next = &apiSink{Rev: rev, Err: c.Err}
		case c.Rec.Op == apisinks.OpDelete:
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
// name; what superseded it follows in the watch. Not knowing (the bucket
// not answering), it is applied: a stale record is corrected by the next
// change the watch delivers, a lost one is not.
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
		if next.Err != nil {
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
	_, err := g.applyLocked(ctx, apisinks.Effective(file, api), false)
	if err != nil && next != nil && next.Err == nil {
		// It could not start (its consumer could not be made): it shows
		// as failed, and the rest of the sinks stay as they are.
		next.Err = err
		if _, err2 := g.applyLocked(ctx, apisinks.Effective(file, api), false); err2 != nil {
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
	for _, a := range g.api {
		switch {
		case errors.Is(a.Err, apisinks.ErrNameInFile):
			conflicts++
		case errors.As(a.Err, &r):
			refused++
		case a.Err != nil:
			failed++
		}
	}
	g.metrics.APISinksNotRunning.WithLabelValues("conflict").Set(float64(conflicts))
	g.metrics.APISinksNotRunning.WithLabelValues("refused").Set(float64(refused))
	g.metrics.APISinksNotRunning.WithLabelValues("failed").Set(float64(failed))
	g.expiry.Schedule(apisinks.PendingOf(g.api))
}
