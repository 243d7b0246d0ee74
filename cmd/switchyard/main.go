// Command switchyard is the Switchyard event gateway's CLI. Each subcommand
// is a thin layer over a package in pkg/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// exitError carries an exit code out of a command without printing usage.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	root := &cobra.Command{
		Use:   "switchyard",
		Short: "Switchyard fans events from NATS JetStream out to webhooks and cloud buses, reliably",
		Long: `Switchyard reads events that services publish to NATS JetStream (subjects events.<type>)
and delivers each to every sink whose filters match: signed HTTPS webhooks, Amazon
EventBridge, Google Pub/Sub, gocloud.dev/pubsub URLs and other JetStream streams.
Each sink has its own durable consumer; JetStream redelivery is the retry engine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(demoCmd(), runCmd(), validateCmd(), publishCmd(), listenCmd(), statusCmd(), sinksCmd(), dlqCmd(), attemptsCmd(), replayCmd(), benchCmd(), scaleCmd(), schemaCmd(), versionCmd())
	// Ctrl-C or SIGTERM cancels the command's context: replay cancels the
	// replay on the server, status --watch and demo clean up. (run keeps
	// its own handling: the first signal starts a graceful stop.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		if e, ok := err.(exitError); ok {
			os.Exit(e.code)
		}
		fmt.Fprintln(os.Stderr, "switchyard:", err)
		os.Exit(1)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "switchyard", versionString())
		},
	}
}
