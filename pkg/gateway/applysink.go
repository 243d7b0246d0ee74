package gateway

import (
	"context"
	"fmt"
	"slices"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// applySink makes next the running sink called name (nil: none runs
// under it) and leaves every other sink as it is: what applyLocked does
// for a whole config, for the one sink an API create, change or delete
// touches, so that it costs the same whatever the number of sinks.
func (g *Gateway) applySink(ctx context.Context, name string, next *config.Sink) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.runCtx == nil || !g.running.Load() {
		return ErrNotRunning
	}
	return g.applySinkLocked(ctx, name, next)
}

// applySinkLocked builds the new sink before touching the running one,
// swaps it in under g.mu, starts it, hands its replays over and drains
// the old one; a failure to build leaves what runs as it was. reloadMu
// is held.
func (g *Gateway) applySinkLocked(ctx context.Context, name string, next *config.Sink) error {
	g.mu.RLock()
	old := g.byName[name]
	g.mu.RUnlock()
	switch {
	case next == nil && old == nil:
		return nil
	case next == nil:
		g.swapSink(name, old, nil)
		g.replays.HandOff(nil, []string{name})
		g.stopSink(ctx, old)
		g.metrics.ForgetSink(name) // its dispatcher has stopped
		g.log.Info("sink removed", "sink", name)
		return nil
	case old != nil:
		fields := sinkChanges(old.cfg, *next)
		if len(fields) == 0 {
			return nil
		}
		if slices.Contains(fields, "incarnation") {
			return g.rebornSinkLocked(ctx, old.cfg, *next)
		}
	}
	rs, err := g.openSink(ctx, *next)
	if err != nil {
		return fmt.Errorf("reload: sink %s: %w", name, err)
	}
	if err := g.applyPause(ctx, rs); err != nil {
		g.log.Warn("reload: pause state", "sink", name, "err", err)
	}
	g.swapSink(name, old, rs)
	moved := g.moveSink(ctx, old, rs) // changed delivery: the move starts rs and stops old (move.go)
	if !moved {
		g.startSink(g.runCtx, rs)
	}
	g.replays.HandOff(replayDispatchers(map[string]*runningSink{name: rs}), nil)
	if old != nil {
		if !moved {
			g.stopSink(ctx, old)
		}
		g.log.Info("sink changed", "sink", name)
		return nil
	}
	g.log.Info("sink added", "sink", name)
	return nil
}

// rebornSinkLocked replaces a running sink by another incarnation under
// its name (this replica missed the delete between them): another sink,
// so the old one stops, and its metric series go, before the new one
// starts, rather than handing over to it. When the new one cannot start,
// the old one runs again, as after any failed apply. reloadMu is held.
func (g *Gateway) rebornSinkLocked(ctx context.Context, old, next config.Sink) error {
	_ = g.applySinkLocked(ctx, old.Name, nil) // a removal cannot fail
	err := g.applySinkLocked(ctx, next.Name, &next)
	if err != nil {
		if rerr := g.applySinkLocked(ctx, old.Name, &old); rerr != nil {
			g.log.Error("reload: the sink replaced by a failed apply did not start again", "sink", old.Name, "err", rerr)
		}
	}
	return err
}

// sinkChanges names the fields in which next differs from the running
// sink cur, as config.Diff does for a whole config.
func sinkChanges(cur, next config.Sink) []string {
	p := config.Diff(&config.Config{Sinks: []config.Sink{cur}}, &config.Config{Sinks: []config.Sink{next}})
	return p.Changed[next.Name]
}

// swapSink puts rs (nil: nothing) in the place of old (nil: none) in
// byName, sinks and cfg.Sinks. sinks and cfg.Sinks run in step (the
// i-th sink runs the i-th definition), so one lookup finds both; a new
// sink goes last. Taking one out keeps the others' order.
func (g *Gateway) swapSink(name string, old, rs *runningSink) {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := -1
	if old != nil {
		i = slices.Index(g.sinks, old)
	}
	if i >= 0 && (i >= len(g.cfg.Sinks) || g.cfg.Sinks[i].Name != name) {
		g.resyncConfigLocked() // out of step: should not happen
	}
	switch {
	case rs == nil:
		delete(g.byName, name)
		if i >= 0 {
			g.sinks = slices.Delete(g.sinks, i, i+1)
			g.cfg.Sinks = slices.Delete(g.cfg.Sinks, i, i+1)
		}
	case i >= 0:
		g.byName[name] = rs
		g.sinks[i] = rs
		g.cfg.Sinks[i] = rs.cfg
	default:
		g.byName[name] = rs
		g.sinks = append(g.sinks, rs)
		g.cfg.Sinks = append(g.cfg.Sinks, rs.cfg)
	}
}

// resyncConfigLocked makes cfg.Sinks the running sinks' definitions
// again, in their order. g.mu is held.
func (g *Gateway) resyncConfigLocked() {
	g.log.Warn("reload: the running config was out of step with the running sinks; rebuilt")
	g.cfg.Sinks = make([]config.Sink, len(g.sinks))
	for i, rs := range g.sinks {
		g.cfg.Sinks[i] = rs.cfg
	}
}
