// Package autodisable disables the sinks whose deliveries have all failed
// for their disable_after, as Svix and Stripe do with endpoints that fail
// for days. The Watcher finds them; how a sink is disabled (an API sink's
// definition gets disabled: true, a file sink is paused) is the gateway's.
// Either way its backlog is kept, and the reason shows in its state.
package autodisable

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Interval is how often sinks with disable_after are checked.
var Interval = 10 * time.Second

// Dispatcher is what the Watcher reads of a sink's dispatcher.
type Dispatcher interface {
	State() dispatch.State
	// FailingSince is when the current run of failures began; zero while
	// deliveries succeed.
	FailingSince() time.Time
	Snapshot() (lastSuccess time.Time, lastErr string, lastErrAt time.Time)
}

// Sink is one running sink, as the Watcher sees it.
type Sink struct {
	Name       string
	After      time.Duration // its disable_after; ≤ 0: never
	Disabled   bool          // in its definition already
	Dispatcher Dispatcher
}

// Sinks is what the Watcher needs of the gateway.
type Sinks interface {
	AutoDisableSinks() []Sink
	// Disable disables the sink for reason.
	Disable(ctx context.Context, name, reason string) error
}

// Watcher checks the sinks every Interval while Run runs.
type Watcher struct {
	Sinks   Sinks
	Metrics *telemetry.Metrics // counts AutoDisabled
	Log     *slog.Logger
}

// Run checks every Interval until ctx ends.
func (fw *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range fw.Sinks.AutoDisableSinks() {
			if s.After <= 0 || s.Disabled || s.Dispatcher.State() == dispatch.StatePaused {
				continue
			}
			since := s.Dispatcher.FailingSince()
			if since.IsZero() || time.Since(since) < s.After {
				continue
			}
			_, last, _ := s.Dispatcher.Snapshot()
			reason := fmt.Sprintf("disabled automatically: every delivery failed for %s (since %s; last error: %s)", s.After, since.UTC().Format(time.RFC3339), last)
			fw.disable(ctx, s.Name, reason)
		}
	}
}

func (fw *Watcher) disable(ctx context.Context, name, reason string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := fw.Sinks.Disable(ctx, name, reason); err != nil {
		fw.Log.Error("auto-disable", "sink", name, "err", err)
		return
	}
	fw.Metrics.AutoDisabled.WithLabelValues(name).Inc()
	fw.Log.Warn("sink disabled after failing continuously", "sink", name, "reason", reason)
}
