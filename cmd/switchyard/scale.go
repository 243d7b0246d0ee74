package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/scale"
)

func scaleCmd() *cobra.Command {
	o := scale.Defaults()
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "Measure one gateway with many API-created webhook endpoints: create, memory, idle CPU, fan-out",
		Long: `Run this same binary as a child gateway (embedded JetStream in a temporary directory, the
admin API on a loopback port behind a fresh token), so that its memory and CPU are its own;
start a loopback receiver with a path per endpoint; create --endpoints webhook endpoints over
--tenants tenants (t0, t1, …; every event of its tenant) through POST /v1/sinks with
--clients concurrent clients, and measure:

create:    each create's latency (median, p99), the total time and rate, any non-2xx answer
memory:    the gateway's RSS (/proc/<pid>/status) before the first create and 5 s after the
           last, and the growth per endpoint; its live heap (/debug/pprof/heap) beside it
idle CPU:  the gateway's CPU time (/proc/<pid>/stat) over the next 10 s, as % of one core
fan-out:   one event per tenant (published to tenants.<t>.scale.ping on the gateway's NATS):
           deliveries within 60 s, publish → receipt p50, p99, max
later:     memory and goroutines right after the events and --later (100 s) after them,
           when idle dispatchers (30 s) and keep-alive connections (90 s) have closed

--faulty instead: every tenth endpoint answers 503, another tenth hangs past its 1 s
timeout, every 50th is paused before five events per tenant and resumed 15 s later: the
healthy endpoints' deliveries within 30 s and p99, whether every event of a failing
endpoint was tried within 30 s and its dead letters at one minute, and what a paused
endpoint got while paused and within 20 s of its resume.

The machine's load average is reported beside the figures. Everything runs on 127.0.0.1;
the gateway is killed and its directory removed at the end (and on Ctrl-C).`,
		Example: `  switchyard scale --endpoints 10000 --tenants 1000 --clients 8 --delivery shared
  switchyard scale --endpoints 2000 --tenants 200 --clients 8 --delivery dedicated
  switchyard scale --endpoints 2000 --tenants 200 --faulty --json
  switchyard scale --endpoints 2000 --tenants 200 --heapprofile heap   # heap.{before,idle,later}.pprof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary = bin
			o.Command = strings.Join(os.Args, " ")
			o.Progress = cmd.ErrOrStderr()
			rep, err := scale.Run(cmd.Context(), o) // canceled by SIGINT/SIGTERM: the child is killed
			if rep != nil {
				if asJSON {
					// One run gives both: the summary beside the progress.
					rep.WriteSummary(cmd.ErrOrStderr())
					if e := rep.WriteJSON(cmd.OutOrStdout()); e != nil && err == nil {
						err = e
					}
				} else {
					rep.WriteSummary(cmd.OutOrStdout())
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Endpoints, "endpoints", o.Endpoints, "webhook endpoints to create")
	f.IntVar(&o.Tenants, "tenants", o.Tenants, "tenants the endpoints are spread over")
	f.IntVar(&o.Clients, "clients", o.Clients, "concurrent API clients creating them")
	f.StringVar(&o.Delivery, "delivery", "", `each endpoint's "delivery": dedicated or shared (empty: the field is left out, the server's default applies)`)
	f.BoolVar(&o.Faulty, "faulty", false, "the isolation run: failing, hanging and paused endpoints, five events per tenant")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON on stdout (the summary goes to stderr)")
	f.DurationVar(&o.Later, "later", o.Later, "read memory and goroutines again this long after the events (0: not)")
	f.StringVar(&o.HeapProfile, "heapprofile", "", "save the gateway's heap profiles to PREFIX.{before,idle,later}.pprof (go tool pprof -sample_index=inuse_space -diff_base PREFIX.idle.pprof PREFIX.later.pprof)")
	f.DurationVar(&o.CreateTimeout, "create-timeout", o.CreateTimeout, "give up creating after this long")
	return cmd
}
