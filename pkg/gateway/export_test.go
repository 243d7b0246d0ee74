package gateway

import (
	"context"
	"time"
)

// SetReplayRetention changes how long g keeps finished replays and how
// many at most, for a test.
func SetReplayRetention(g *Gateway, d time.Duration, n int) { g.replays.SetRetention(d, n) }

// SetLimitsInterval changes how often limits are checked, for a test.
func SetLimitsInterval(d time.Duration) (restore func()) {
	old := limitsInterval
	limitsInterval = d
	return func() { limitsInterval = old }
}

// CloseForTest closes a gateway that was built but never run.
func CloseForTest(g *Gateway) { g.close(context.Background()) }

// SetFailureCheckInterval changes how often disable_after is checked.
func SetFailureCheckInterval(d time.Duration) (restore func()) {
	old := failureCheckInterval
	failureCheckInterval = d
	return func() { failureCheckInterval = old }
}
