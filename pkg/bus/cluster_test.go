package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Replicas deployed together on a fresh cluster create the same streams at
// the same moment. nats-server leaves equal creates that race unanswered
// (a later assignment inherits an earlier one's "responded" mark; nats.go
// issue 949), often all but one and at times all three, so they hear
// nothing and wait out a whole attempt: with long attempts a replica would
// need over a minute to get ready (five creates × 10 s). Each wait must
// cost a short first attempt, not the longest one.
func TestReplicasCreatingStreamsTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two three-node clusters")
	}
	const replicas = 3
	for round := range 2 {
		c := testutil.StartCluster(t, 3)
		took := make([]time.Duration, replicas)
		retries := make([]int64, replicas)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				cfg := config.Defaults()
				cfg.NATS.URL = c.URL()
				cfg.Stream.Replicas = 3
				cfg.Stream.MaxBytes.N = 8 << 20
				cfg.DeadLetters.MaxBytes.N = 4 << 20
				r := &bus.Retrier{Log: quiet()}
				b, err := bus.OpenWith(t.Context(), cfg, quiet(), r)
				if err != nil {
					errs[i] = err
					return
				}
				defer b.Close()
				start := time.Now()
				errs[i] = ensureAll(t.Context(), b)
				took[i], retries[i] = time.Since(start), r.Retries()
			})
		}
		wg.Wait()
		for i := range replicas {
			if errs[i] != nil {
				t.Fatalf("round %d, replica %d: %v", round, i, errs[i])
			}
			t.Logf("round %d, replica %d: streams and buckets in %s, %d retried", round, i, took[i].Round(time.Millisecond), retries[i])
			// Five creates; a lost answer may cost one short attempt each.
			if took[i] >= bus.RetryAttempt {
				t.Errorf("round %d, replica %d took %s: a lost create answer cost a whole %s attempt", round, i, took[i].Round(time.Millisecond), bus.RetryAttempt)
			}
		}
	}
}

func ensureAll(ctx context.Context, b *bus.Bus) error {
	if err := b.EnsureStreams(ctx); err != nil {
		return err
	}
	if _, err := b.StateKV(ctx); err != nil {
		return err
	}
	_, err := b.SinksKV(ctx)
	return err
}
