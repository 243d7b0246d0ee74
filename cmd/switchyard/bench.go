package main

import (
	"io"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/bench"
)

func benchCmd() *cobra.Command {
	o := bench.Defaults()
	var cpuProfile, allocProfile string
	var ingestMode bool
	var ingestFor time.Duration
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure webhook delivery against a bare consume → POST → ack loop on this machine",
		Long: `Run Switchyard (embedded JetStream, webhook sinks, default config) and a bare loop
(embedded nats-server, a durable pull consumer per sink, workers that POST the bytes and
Ack) against the same loopback HTTP receiver, interleaved over several rounds, each on a
fresh temporary store.

drain:   a backlog of --events events is published first, then timed until every sink
         delivered every event.
latency: after the drain rounds, events are published live at --rate (default: half
         the bare loop's best drain rate) for --latency; publish-to-receipt p50/p99.

--sink eventbridge|pubsub: the same against an in-process emulator (the PutEvents fake,
or pstest); the bare loop sends with the SDK's own batch call (PutEvents of up to 10
entries; the Pub/Sub Publisher's batching, 100 per request) and acks once it returns;
the product runs an eventbridge or pubsub sink (batch 10 or 100, max_wait 5ms).
--delivery shared: the product's sinks are fed by shared delivery (matchers hand each
event on as a record in the deliveries stream; deliverers offer the records to the
sinks) instead of a durable consumer each; the bare loop and the receiver are the same.

Per phase: events/s, process CPU µs per delivery (user+sys; the publisher and the
receiver run in this process for both systems), allocations per delivery, heap (and
heap in use after a collection at the start and end of the phase: a soak's growth).
Prints a table per round and a summary with medians and product/bare ratios.
--ingest: the ingest API instead. HTTP clients (--concurrency) post single events and
arrays of 100 for --ingest-for per phase to the product's handler (POST /v1/events, a
token, validation, metrics, 202 after every PubAck) and to a bare handler (decode →
JetStream publish → PubAck → 202), on one embedded nats-server; events/s and p50/p99
time to 202, and the product/bare ratios.
Everything runs on 127.0.0.1 and stops by itself.`,
		Example: `  switchyard bench
  switchyard bench --events 300000 --rounds 1 --latency 0
  switchyard bench --sinks 4 --events 10000
  switchyard bench --rounds 7 --events 10000 --latency 0 --delivery shared   # the product's sink on shared delivery
  switchyard bench --sink eventbridge --rounds 2 --latency 0
  switchyard bench --rounds 1 --events 20000 --latency 5m   # a soak at half the bare rate
  switchyard bench --systems product --events 0 --rounds 1 --rate 6000 --latency 10m --allocprofile soak
  switchyard bench --rounds 1 --latency 0 --cpuprofile cpu   # cpu.bare.pprof, cpu.product.pprof
  switchyard bench --rounds 1 --latency 0 --allocprofile mem # mem.product.before.pprof, mem.product.after.pprof, …
  switchyard bench --ingest --concurrency 16 --rounds 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			if ingestMode {
				rep, err := bench.RunIngest(cmd.Context(), bench.IngestOptions{For: ingestFor, Concurrency: o.Concurrency,
					Size: o.Size, Batches: []int{1, 100}, Rounds: o.Rounds, Out: o.Out})
				if err != nil {
					return err
				}
				rep.WriteSummary(o.Out)
				return nil
			}
			if cpuProfile != "" {
				o.CPUProfile = map[string]io.Writer{}
				for _, key := range []string{"bare", "product", "bare.latency", "product.latency"} {
					f, err := os.Create(cpuProfile + "." + key + ".pprof")
					if err != nil {
						return err
					}
					defer removeIfEmpty(f)
					o.CPUProfile[key] = f
				}
			}
			if allocProfile != "" {
				// Sample every 4 KB allocated rather than every 512 KB, so
				// that a drain's few hundred MB give a usable profile.
				runtime.MemProfileRate = 4096
				o.AllocProfile = map[string]io.Writer{}
				for _, key := range []string{"bare.before", "bare.after", "product.before", "product.after",
					"bare.latency.warm", "bare.latency.end", "product.latency.warm", "product.latency.end"} {
					f, err := os.Create(allocProfile + "." + key + ".pprof")
					if err != nil {
						return err
					}
					defer removeIfEmpty(f)
					o.AllocProfile[key] = f
				}
			}
			rep, err := bench.Run(cmd.Context(), o) // canceled by SIGINT/SIGTERM
			if err != nil {
				return err
			}
			rep.WriteSummary(o.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Events, "events", "n", o.Events, "backlog of events per drain phase (0: no drain phase)")
	f.IntVar(&o.Size, "size", o.Size, "event body size in bytes (JSON)")
	f.IntVarP(&o.Concurrency, "concurrency", "c", o.Concurrency, "workers per sink (the product sink's concurrency)")
	f.IntVar(&o.Sinks, "sinks", o.Sinks, "webhook sinks receiving every event (the bare loop runs as many consumers)")
	f.StringVar(&o.Sink, "sink", o.Sink, "destination: webhook, eventbridge (the PutEvents fake) or pubsub (pstest)")
	f.StringVar(&o.Delivery, "delivery", o.Delivery, "how the product's sinks are fed: dedicated (a durable consumer each) or shared (shared delivery's matchers and deliverers); the bare loop is the same")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; the systems' order alternates between rounds")
	f.Float64Var(&o.Rate, "rate", 0, "latency phase publish rate in events/s (0: half the bare loop's best drain rate)")
	f.DurationVar(&o.LatencyFor, "latency", o.LatencyFor, "how long the latency phase publishes (0: no latency phase)")
	f.BoolVar(&ingestMode, "ingest", false, "measure the ingest API (POST /v1/events) against a bare decode → publish → PubAck handler")
	f.DurationVar(&ingestFor, "ingest-for", 3*time.Second, "with --ingest: how long each phase posts")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write CPU profiles of the first round's drains to PREFIX.bare.pprof and PREFIX.product.pprof, and of its latency phases to PREFIX.{bare,product}.latency.pprof (go tool pprof FILE)")
	f.StringVar(&allocProfile, "allocprofile", "", "write heap profiles before and after the first round's drains to PREFIX.{bare,product}.{before,after}.pprof (go tool pprof -sample_index=alloc_space -diff_base BEFORE AFTER), and a quarter of the way into the latency phase and at its end to PREFIX.{bare,product}.latency.{warm,end}.pprof (-sample_index=inuse_space)")
	f.StringSliceVar(&o.Systems, "systems", nil, "systems to run: bare, product or both (default both; a latency phase without bare needs --rate)")
	return cmd
}

// removeIfEmpty closes a profile file, and removes it when the phase or
// system it was for did not run.
func removeIfEmpty(f *os.File) {
	if info, err := f.Stat(); err == nil && info.Size() == 0 {
		_ = os.Remove(f.Name())
	}
	f.Close()
}
