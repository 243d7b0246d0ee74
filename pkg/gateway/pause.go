package gateway

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Pause pauses a sink for every replica and across restarts: the state
// bucket records it, and each gateway's watcher applies it.
func (g *Gateway) Pause(ctx context.Context, name, reason string) error {
	rs, err := g.sink(name)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "paused by an operator"
	}
	if err := g.pauses.Pause(ctx, name, reason); err != nil {
		return err
	}
	rs.dispatcher.Pause(reason)
	return nil
}

// Resume resumes a paused sink; its backlog drains.
func (g *Gateway) Resume(ctx context.Context, name string) error {
	rs, err := g.sink(name)
	if err != nil {
		return err
	}
	if rs.cfg.Disabled {
		return gatewayapi.Conflictf("sink %q is disabled in its definition: set disabled: false (PATCH for API sinks, the config file otherwise)", name)
	}
	if err := g.pauses.Resume(ctx, name); err != nil {
		return err
	}
	rs.dispatcher.Resume()
	return nil
}

// applyPauses reads the bucket at start, so a sink paused before a restart
// stays paused from its first moment.
func (g *Gateway) applyPauses(ctx context.Context) error {
	for _, rs := range g.sinkList() {
		if err := g.applyPause(ctx, rs); err != nil {
			return err
		}
	}
	return nil
}

// applyPause pauses one sink if the bucket says so.
func (g *Gateway) applyPause(ctx context.Context, rs *runningSink) error {
	reason, paused, err := g.pauses.Read(ctx, rs.cfg.Name)
	switch {
	case err != nil:
		return err
	case paused:
		rs.dispatcher.Pause(reason)
	default:
		rs.dispatcher.LiftIndefinitePause(ctx)
	}
	return nil
}
