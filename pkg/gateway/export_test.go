package gateway

import (
	"context"
	"time"
)

// SetReplayRetention changes how long finished replays are kept and how
// many at most, for a test; the returned func restores the defaults.
func SetReplayRetention(d time.Duration, n int) (restore func()) {
	oldD, oldN := replayRetention, maxFinishedReplays
	replayRetention, maxFinishedReplays = d, n
	return func() { replayRetention, maxFinishedReplays = oldD, oldN }
}

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
