package gateway

import (
	"context"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/autodisable"
	"github.com/switchyard-dev/switchyard/pkg/limits"
)

// SetReplayRetention changes how long g keeps finished replays and how
// many at most, for a test.
func SetReplayRetention(g *Gateway, d time.Duration, n int) { g.replays.SetRetention(d, n) }

// SetLimitsInterval changes how often limits are checked, for a test.
func SetLimitsInterval(d time.Duration) (restore func()) {
	old := limits.Interval
	limits.Interval = d
	return func() { limits.Interval = old }
}

// CloseForTest closes a gateway that was built but never run.
func CloseForTest(g *Gateway) { g.close(context.Background()) }

// SetFailureCheckInterval changes how often disable_after is checked.
func SetFailureCheckInterval(d time.Duration) (restore func()) {
	old := autodisable.Interval
	autodisable.Interval = d
	return func() { autodisable.Interval = old }
}
