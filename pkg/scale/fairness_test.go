package scale

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestFairnessSmall runs the fairness phases at a size CI affords (20
// tenants, 40 events/s, 3 s phases): every normal tenant's event arrives
// in every phase, the heavy tenant's too once its endpoint answers at
// once. The p99s are logged, not asserted: on a shared 2-core machine
// they measure the machine as much as the gateway.
func TestFairnessSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway as a child process")
	}
	o := FairnessDefaults()
	o.Binary, o.Tenants, o.Rate, o.Phase, o.Drain = binary, 20, 40, 3*time.Second, 30*time.Second
	var progress bytes.Buffer
	o.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Fairness(ctx, o)
	t.Logf("\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Phases) != 3 || rep.RatioFast <= 0 || rep.RatioSlow <= 0 {
		t.Fatalf("%d phases (want 3), ratios %.2f and %.2f", len(rep.Phases), rep.RatioFast, rep.RatioSlow)
	}
	if p := rep.Phases[1]; p.HeavySent == 0 || p.HeavyDelivered != p.HeavySent {
		t.Errorf("%s: the heavy tenant got %d of its %d events", p.Name, p.HeavyDelivered, p.HeavySent)
	}
}

// TestFairness is the figure at full size, run only when asked:
//
//	SCALE_FAIRNESS=1 go test -run 'TestFairness$' -v -timeout 40m ./pkg/scale
//
// SCALE_FAIRNESS_HEAVY sets the heavy factor (10), SCALE_FAIRNESS_PHASE
// each phase's length (30s), SCALE_FAIRNESS_ROUNDS the rounds (3),
// SCALE_FAIRNESS_HEAVY_CONCURRENCY the heavy endpoint's concurrency (1).
func TestFairness(t *testing.T) {
	if os.Getenv("SCALE_FAIRNESS") == "" {
		t.Skip("a measurement: set SCALE_FAIRNESS=1 to run it")
	}
	o := FairnessDefaults()
	o.Binary, o.Progress = binary, os.Stdout
	if h, err := strconv.ParseFloat(os.Getenv("SCALE_FAIRNESS_HEAVY"), 64); err == nil && h > 0 {
		o.Heavy = h
	}
	if d, err := time.ParseDuration(os.Getenv("SCALE_FAIRNESS_PHASE")); err == nil && d > 0 {
		o.Phase = d
	}
	o.Rounds = 3
	if n, err := strconv.Atoi(os.Getenv("SCALE_FAIRNESS_HEAVY_CONCURRENCY")); err == nil && n > 0 {
		o.HeavyConcurrency = n
	}
	if n, err := strconv.Atoi(os.Getenv("SCALE_FAIRNESS_ROUNDS")); err == nil && n > 0 {
		o.Rounds = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rep, err := Fairness(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tenants %d at %.0f events/s, heavy ×%.0f, %d rounds: median p99 ratio with the heavy tenant %.2f, with it slow %.2f",
		rep.Tenants, rep.Rate, rep.Heavy, o.Rounds, rep.RatioFast, rep.RatioSlow)
}
