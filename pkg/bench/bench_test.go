package bench_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/bench"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

// A tiny run: both systems deliver every event to both sinks in both
// phases, and the tables hold sane numbers.
func TestBenchTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	o := bench.Options{Events: 500, Size: 300, Concurrency: 8, Sinks: 2, Rounds: 1, Rate: 1000, LatencyFor: 300 * time.Millisecond, Out: &out}
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rep.WriteSummary(&out)
	t.Log("\n" + out.String())
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want drain and latency for bare and product", len(rep.Results))
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		name := r.Phase + "/" + r.System
		seen[name] = true
		if r.Sinks != 2 || r.Deliveries() != 2*r.Events {
			t.Errorf("%s: %d events × %d sinks", name, r.Events, r.Sinks)
		}
		if r.Phase == "drain" && r.Events != 500 {
			t.Errorf("%s: %d events, want 500", name, r.Events)
		}
		if r.Phase == "latency" && (r.Events != 300 || r.P50 <= 0 || r.P99 < r.P50 || r.P99 > 10*time.Second) {
			t.Errorf("%s: %d events, p50 %s, p99 %s", name, r.Events, r.P50, r.P99)
		}
		if r.EventsPerSec <= 0 || r.Elapsed <= 0 || r.CPUMicros <= 0 || r.Allocs <= 0 || r.HeapInuse == 0 || r.PeakHeap == 0 {
			t.Errorf("%s: not a measurement: %+v", name, r)
		}
	}
	for _, want := range []string{"drain/bare", "drain/product", "latency/bare", "latency/product"} {
		if !seen[want] {
			t.Errorf("no %s result", want)
		}
	}
	for _, want := range []string{"round 1 of 1", "events/s", "CPU µs/dlv", "product/bare", "latency@1000/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if r := rep.Ratios("drain", func(r bench.Result) float64 { return r.EventsPerSec }); len(r) != 1 || r[0] <= 0 {
		t.Errorf("drain ratio %v", r)
	}
}

// --delivery shared: the product's sinks are fed by shared delivery, and
// every event still reaches both sinks beside the bare loop's ceiling.
func TestBenchTinyShared(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	o := bench.Options{Events: 300, Size: 300, Concurrency: 8, Sinks: 2, Rounds: 1, Delivery: "shared", Out: &out}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rep.WriteSummary(&out)
	t.Log("\n" + out.String())
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want a drain for bare and product", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Deliveries() != 600 || r.EventsPerSec <= 0 || r.CPUMicros <= 0 {
			t.Errorf("%s: not a measurement: %+v", r.System, r)
		}
	}
	for _, want := range []string{"summary: webhook (shared delivery)", "product/bare"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// The cloud modes: both systems deliver every event to both sinks of the
// in-process emulator in both phases.
func TestBenchTinyCloud(t *testing.T) {
	for _, sink := range []string{"eventbridge", "pubsub"} {
		t.Run(sink, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out bytes.Buffer
			o := bench.Options{Events: 300, Size: 300, Concurrency: 4, Sinks: 2, Rounds: 1, Rate: 1000, LatencyFor: 200 * time.Millisecond, Out: &out, Sink: sink}
			rep, err := bench.Run(ctx, o)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			rep.WriteSummary(&out)
			t.Log("\n" + out.String())
			if len(rep.Results) != 4 {
				t.Fatalf("%d results, want drain and latency for bare and product", len(rep.Results))
			}
			for _, r := range rep.Results {
				if r.EventsPerSec <= 0 || r.CPUMicros <= 0 || r.HeapStart == 0 || r.HeapEnd == 0 || r.Deliveries() != 2*r.Events {
					t.Errorf("%s/%s: not a measurement: %+v", r.Phase, r.System, r)
				}
				if r.Phase == "latency" && (r.P50 <= 0 || r.P99 < r.P50) {
					t.Errorf("%s/%s: p50 %s, p99 %s", r.Phase, r.System, r.P50, r.P99)
				}
			}
			if !strings.Contains(out.String(), "summary: "+sink) || !strings.Contains(out.String(), "heap start/end MB") {
				t.Errorf("output lacks the mode or heap start/end")
			}
		})
	}
}

// allocationBudget is the delivery path's allocation budget: the product
// allocates at most this many times what the bare loop does per delivery
// (the publisher and receiver, the same for both, included). Measured
// 1.02 (121 against 119 per 1 KiB webhook delivery) on 2026-12-01, and
// 1.05–1.06 (130 against 123) a session later on a faster day, with the
// same product code (the bare loop's count rose too; not looked into).
const allocationBudget = 1.10

// The product's allocations per delivery stay within the budget of the
// bare loop's: allocation counts do not depend on the machine's noise.
func TestAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the product's (.ci/run runs this test without it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := bench.Options{Events: 10000, Size: 1024, Concurrency: 8, Sinks: 1, Rounds: 1}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(r bench.Result) float64 { return r.Allocs }
	bare, product := rep.Median("drain", "bare", allocs), rep.Median("drain", "product", allocs)
	t.Logf("allocations per delivery: bare %.1f, product %.1f (%.2f×, budget %.2f×)", bare, product, product/bare, allocationBudget)
	if product > allocationBudget*bare {
		t.Errorf("product allocates %.1f per delivery, %.2f× the bare loop's %.1f: over the budget of %.2f×", product, product/bare, bare, allocationBudget)
	}
}

func TestBenchRejectsNonsense(t *testing.T) {
	for _, o := range []bench.Options{{Events: 0, Concurrency: 1, Sinks: 1, Rounds: 1}, {Events: 1, Concurrency: 1, Sinks: 0, Rounds: 1}, {Events: 1, Concurrency: 1, Sinks: 1, Rounds: 1, Sink: "kafka"},
		{Events: 1, Concurrency: 1, Sinks: 1, Rounds: 1, Delivery: "both"},
		{Events: 1, Concurrency: 1, Sinks: 1, Rounds: 1, Systems: []string{"naive"}},
		{Events: 0, Concurrency: 1, Sinks: 1, Rounds: 1, LatencyFor: time.Second},                                 // no drain, no rate
		{Events: 1, Concurrency: 1, Sinks: 1, Rounds: 1, LatencyFor: time.Second, Systems: []string{"product"}}} { // no bare drain, no rate
		if _, err := bench.Run(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// BenchmarkDrainVsBare drains b.N events through the bare loop and then
// through the product (one webhook sink, concurrency 64, 1 KB bodies,
// default config), each from a backlog published untimed. One op is one
// event drained by both, so with -benchmem, allocs/op and B/op are the two
// systems' together; the per-system figures are the reported metrics.
//
//	go test -run '^$' -bench DrainVsBare -benchtime 30000x -benchmem ./pkg/bench/
func BenchmarkDrainVsBare(b *testing.B) {
	o := bench.Defaults()
	o.Events, o.Rounds, o.LatencyFor = b.N, 1, 0
	o.Timed = func(on bool) {
		if on {
			b.StartTimer()
		} else {
			b.StopTimer()
		}
	}
	b.ReportAllocs()
	b.StopTimer()
	rep, err := bench.Run(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	get := func(sys string, f func(bench.Result) float64) float64 { return rep.Median("drain", sys, f) }
	rate := func(r bench.Result) float64 { return r.EventsPerSec }
	cpu := func(r bench.Result) float64 { return r.CPUMicros }
	allocs := func(r bench.Result) float64 { return r.Allocs }
	b.ReportMetric(get("bare", rate), "bare-events/s")
	b.ReportMetric(get("product", rate), "product-events/s")
	b.ReportMetric(get("product", rate)/get("bare", rate), "product/bare")
	b.ReportMetric(get("bare", cpu), "bare-cpu-µs/event")
	b.ReportMetric(get("product", cpu), "product-cpu-µs/event")
	b.ReportMetric(get("bare", allocs), "bare-allocs/event")
	b.ReportMetric(get("product", allocs), "product-allocs/event")
}
