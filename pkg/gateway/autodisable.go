package gateway

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/autodisable"
)

// failingSinks shows the auto-disable watcher the running sinks, and
// disables them: an API sink's definition gets disabled: true, a file
// sink (whose definition the gateway cannot change) is paused.
type failingSinks struct{ g *Gateway }

// AutoDisableSinks implements autodisable.Sinks.
func (f failingSinks) AutoDisableSinks() []autodisable.Sink {
	return sinkViews(f.g, func(rs *runningSink) autodisable.Sink {
		return autodisable.Sink{Name: rs.cfg.Name, After: rs.cfg.DisableAfter.D, Disabled: rs.cfg.Disabled, Dispatcher: rs.dispatcher}
	})
}

func (f failingSinks) Disable(ctx context.Context, name, reason string) error {
	g := f.g
	g.mu.RLock()
	_, isAPI := g.api[name]
	g.mu.RUnlock()
	if !isAPI {
		return g.Pause(ctx, name, reason)
	}
	return g.updateAPISink(ctx, name, apisinks.OpAutoDisable, "switchyard", reason, func(doc map[string]any, _ *apisinks.Record) error {
		doc["disabled"] = true
		return nil
	})
}
