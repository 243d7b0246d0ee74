package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
)

// failureCheckInterval is how often sinks with disable_after are checked.
var failureCheckInterval = 10 * time.Second

// watchFailures disables the sinks whose deliveries have all failed for
// their disable_after, as Svix and Stripe do with endpoints that fail for
// days: an API sink's definition gets disabled: true, a file sink (whose
// definition the gateway cannot change) is paused. Either way its backlog
// is kept, and the reason shows in its state.
func (g *Gateway) watchFailures(ctx context.Context) {
	t := time.NewTicker(failureCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, rs := range g.sinkList() {
			after := rs.cfg.DisableAfter.D
			if after <= 0 || rs.cfg.Disabled || rs.dispatcher.State() == "paused" {
				continue
			}
			since := rs.dispatcher.FailingSince()
			if since.IsZero() || time.Since(since) < after {
				continue
			}
			_, last, _ := rs.dispatcher.Snapshot()
			reason := fmt.Sprintf("disabled automatically: every delivery failed for %s (since %s; last error: %s)", after, since.UTC().Format(time.RFC3339), last)
			g.autoDisable(ctx, rs.cfg.Name, reason)
		}
	}
}

func (g *Gateway) autoDisable(ctx context.Context, name, reason string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	g.mu.RLock()
	_, isAPI := g.api[name]
	g.mu.RUnlock()
	var err error
	if isAPI {
		err = g.updateAPISink(ctx, name, apisinks.OpAutoDisable, "switchyard", reason, func(doc map[string]any, _ *apisinks.Record) error {
			doc["disabled"] = true
			return nil
		})
	} else {
		err = g.Pause(ctx, name, reason)
	}
	if err != nil {
		g.log.Error("auto-disable", "sink", name, "err", err)
		return
	}
	g.metrics.AutoDisabled.WithLabelValues(name).Inc()
	g.log.Warn("sink disabled after failing continuously", "sink", name, "reason", reason)
}
