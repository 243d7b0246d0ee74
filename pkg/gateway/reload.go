package gateway

import (
	"context"
	"fmt"
	"slices"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Reload applies a new config to the running gateway, Caddy-style: build
// the new sinks first, swap them in, then drain the old ones. A sink whose
// config is unchanged keeps running untouched. A changed sink's durable
// consumer is updated in place (filters, ack wait, limits), its new
// dispatcher starts pulling beside the old one, and the old one stops
// pulling and finishes what it holds: JetStream spreads the messages
// between the two, so none is lost or sent through the wrong config
// twice. Removed sinks stop; their consumers (and backlogs) are kept
// unless prune is set. Settings that need a restart are reported in the
// plan and keep their running values.
//
// The endpoints judge the API sinks again against the new file and
// apply the result through apply.
func (g *Gateway) Reload(ctx context.Context, next *config.Config, prune bool) (config.Plan, error) {
	return g.endpoints.Reload(ctx, next, prune)
}

// apply makes next's sinks the running ones (applyLocked) under reloadMu.
func (g *Gateway) apply(ctx context.Context, next *config.Config, prune bool) (config.Plan, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.runCtx == nil || !g.running.Load() {
		return config.Plan{}, ErrNotRunning
	}
	return g.applyLocked(ctx, next, prune)
}

// applyLocked swaps the running sinks for those of next (the file's sinks
// and the API's), building new ones before stopping old ones. reloadMu
// is held.
func (g *Gateway) applyLocked(ctx context.Context, next *config.Config, prune bool) (config.Plan, error) {
	g.mu.RLock()
	plan := config.Diff(g.cfg, next)
	g.mu.RUnlock()
	if len(plan.Added)+len(plan.Removed)+len(plan.Changed) == 0 {
		return plan, nil
	}
	if reborn := rebornSinks(plan); len(reborn) > 0 {
		// Another incarnation under a running sink's name (this replica
		// missed the delete between them) is another sink: the old one
		// stops, and its metric series go, before the new one starts,
		// rather than handing over to it as a changed sink does.
		interim := *next
		interim.Sinks = nil
		for _, s := range next.Sinks {
			if !reborn[s.Name] {
				interim.Sinks = append(interim.Sinks, s)
			}
		}
		g.mu.RLock()
		prev := *g.cfg
		prev.Sinks = append([]config.Sink(nil), g.cfg.Sinks...)
		g.mu.RUnlock()
		if _, err := g.applyLocked(ctx, &interim, false); err != nil {
			return plan, err
		}
		_, err := g.applyLocked(ctx, next, prune) // they are added now
		if err != nil {
			// The new ones could not start (a file sink refused over
			// an API sink's consumer, say): a failed apply leaves what
			// ran, so the old ones run again.
			if _, rerr := g.applyLocked(ctx, &prev, false); rerr != nil {
				g.log.Error("reload: the sinks replaced by a failed apply did not start again", "err", rerr)
			}
		}
		return plan, err
	}
	want := map[string]config.Sink{}
	for _, s := range next.Sinks {
		want[s.Name] = s
	}

	// Build everything new before touching what runs: a failure here
	// leaves the running config as it was.
	fresh := map[string]*runningSink{}
	for _, name := range append(append([]string{}, plan.Added...), changedNames(plan)...) {
		rs, err := g.openSink(ctx, want[name])
		if err != nil {
			for _, r := range fresh {
				_ = r.driver.Close(ctx)
			}
			return plan, fmt.Errorf("reload: sink %s: %w", name, err)
		}
		if err := g.applyPause(ctx, rs); err != nil {
			g.log.Warn("reload: pause state", "sink", name, "err", err)
		}
		fresh[name] = rs
	}

	g.mu.Lock()
	old := g.byName
	var stopping []*runningSink
	byName := map[string]*runningSink{}
	var sinks []*runningSink
	for _, s := range next.Sinks {
		rs, ok := fresh[s.Name]
		if !ok {
			rs = old[s.Name]
		} else if prev, had := old[s.Name]; had {
			stopping = append(stopping, prev)
		}
		byName[s.Name] = rs
		sinks = append(sinks, rs)
	}
	for _, name := range plan.Removed {
		stopping = append(stopping, old[name])
	}
	g.sinks, g.byName = sinks, byName
	// Its own copy, in step with sinks: applySink changes it in place.
	g.cfg.Sinks = slices.Clone(next.Sinks)
	g.cfg.ShutdownGrace = next.ShutdownGrace
	g.cfg.API = next.API
	g.mu.Unlock()

	moved := map[string]bool{} // changed delivery: the move starts and stops them (move.go)
	for name, rs := range fresh {
		if moved[name] = g.moveSink(ctx, old[name], rs); !moved[name] {
			g.startSink(g.runCtx, rs)
		}
	}
	g.replays.HandOff(replayDispatchers(fresh), plan.Removed)
	for _, rs := range stopping {
		if !moved[rs.cfg.Name] {
			g.stopSink(ctx, rs)
		}
	}
	for _, name := range plan.Removed {
		g.metrics.ForgetSink(name) // its dispatcher has stopped
	}
	if prune {
		// An API sink a reload refuses (a narrower api.allow) keeps its
		// backlog until it complies again; only its delete removes it.
		var names []string
		for _, n := range plan.Removed {
			if !g.endpoints.Has(n) {
				names = append(names, n)
			}
		}
		g.consumers.Delete(ctx, "reload: prune", names...)
	}
	g.log.Info("config reloaded", "added", plan.Added, "removed", plan.Removed, "changed", plan.Changed, "needs_restart", plan.Restart)
	return plan, nil
}

// rebornSinks are the changed sinks of p whose incarnation changed.
func rebornSinks(p config.Plan) map[string]bool {
	out := map[string]bool{}
	for name, fields := range p.Changed {
		if slices.Contains(fields, "incarnation") {
			out[name] = true
		}
	}
	return out
}

func changedNames(p config.Plan) []string {
	out := make([]string, 0, len(p.Changed))
	for n := range p.Changed {
		out = append(out, n)
	}
	return out
}
