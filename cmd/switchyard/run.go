package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

func runCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway",
		Long: `Run the gateway with the given config. With nats.url empty it embeds a nats-server
with JetStream (listening on nats.embedded.listen, storing in nats.embedded.store_dir).
SIGINT or SIGTERM stops pulling, gives deliveries in flight shutdown_grace to finish,
hands the rest back to JetStream and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				cmd.PrintErrln(err)
				return exitError{2}
			}
			log := telemetry.NewLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			g, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Version: versionString()})
			if err != nil {
				return err
			}
			return g.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "config/switchyard.yaml", "config file (YAML)")
	return cmd
}
