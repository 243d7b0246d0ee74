package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

func runCmd() *cobra.Command {
	var path string
	var prune, watch bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the gateway",
		Long: `Run the gateway with the given config. With nats.url empty it embeds a nats-server
with JetStream (listening on nats.embedded.listen, storing in nats.embedded.store_dir).
SIGINT or SIGTERM stops pulling, gives deliveries in flight shutdown_grace to finish,
hands the rest back to JetStream and exits 0.

SIGHUP, or a change of the config file (checked every 2s unless --watch=false), reloads
the sinks without a restart: new sinks start, removed ones stop (their consumers are
kept unless --prune), changed ones pick up new filters, secrets, retry schedule and
concurrency. A file with problems is reported and the running config kept.`,
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
			shutdownTracing, err := telemetry.SetupTracing(ctx, versionString())
			if err != nil {
				return fmt.Errorf("tracing: %w", err)
			}
			defer func() {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = shutdownTracing(sctx)
			}()
			g, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Version: versionString()})
			if err != nil {
				return err
			}
			go reloadLoop(ctx, g, path, prune, watch, log)
			return g.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "config/switchyard.yaml", "config file (YAML)")
	cmd.Flags().BoolVar(&prune, "prune", false, "on reload, delete the consumers (and backlogs) of removed sinks, also those kept by earlier reloads")
	cmd.Flags().BoolVar(&watch, "watch", true, "reload when the config file changes")
	return cmd
}

// reloadLoop reloads on SIGHUP and, with watch, when the file changes.
func reloadLoop(ctx context.Context, g *gateway.Gateway, path string, prune, watch bool, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	mtime := modTime(path)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-tick.C:
			m := modTime(path)
			if !watch || m.Equal(mtime) {
				continue
			}
		}
		mtime = modTime(path)
		next, err := config.Load(path)
		if err != nil {
			log.Error("reload refused: the running config is kept", "file", path, "problems", err.Error())
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		plan, err := g.Reload(rctx, next, prune)
		cancel()
		if err != nil {
			log.Error("reload failed: the running config is kept", "err", err)
			continue
		}
		log.Info("reload applied", "plan", strings.TrimSpace(plan.String()))
	}
}

func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
