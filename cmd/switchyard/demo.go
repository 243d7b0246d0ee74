package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/demo"
)

func demoCmd() *cobra.Command {
	var events int
	var sinkKind string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See Switchyard work end to end on this machine, nothing to install",
		Long: `Start an embedded JetStream, the gateway with one sink, and a local destination: an
HTTPS receiver that verifies every signature (or, with --sink, an EventBridge or Pub/Sub
fake). Publish sample events; the destination fails some
first attempts (and answers 410 Gone to a few) on purpose so retries and dead letters
show. Ends with a summary: published, delivered, verified, retried, dead-lettered,
latency p50/p99. Everything runs on loopback and in a temporary directory.
With --keep it then keeps running, publishing an event a second, so the web
console (its URL is printed) shows a live system until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := demo.Run(cmd.Context(), demo.Options{Sink: sinkKind, Events: events, Out: cmd.OutOrStdout(), Live: isTerminal(os.Stdout), Version: versionString(), Keep: keep})
			return err
		},
	}
	cmd.Flags().IntVarP(&events, "events", "n", 300, "how many events to publish")
	cmd.Flags().StringVar(&sinkKind, "sink", "webhook", "the demo's destination: webhook (a verifying HTTPS receiver), eventbridge (a PutEvents fake through the AWS SDK) or pubsub (Google's pstest)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo running after the summary (an event a second) and print the web console's URL; Ctrl-C stops it")
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
