package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/receiver"
)

func listenCmd() *cobra.Command {
	var (
		addr     string
		secrets  []string
		failRate float64
		delay    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Run a local webhook receiver that verifies every delivery",
		Long: `Run a local HTTP webhook receiver for development. Each delivery's signature and
timestamp are verified with pkg/signing, and one line is printed per request: time,
event id, type, attempt, valid or INVALID, and the status answered. Point a sink with
allow_private_networks: true at it.`,
		Example: `  switchyard listen --addr 127.0.0.1:9000 --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --fail-rate 0.2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			rcv, err := receiver.New(receiver.Options{Secrets: secrets, FailRate: failRate, Delay: delay,
				OnDelivery: func(d receiver.Delivery) { fmt.Fprintln(out, d.Describe()) }})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "listening on http://%s (fail rate %.0f%%, delay %s)\n", addr, failRate*100, delay)
			srv := &http.Server{Addr: addr, Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.ListenAndServe(); err != http.ErrServerClosed {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9000", "address to listen on")
	f.StringSliceVar(&secrets, "secret", nil, "signing secret (whsec_… or whpk_…); repeat for rotation")
	f.Float64Var(&failRate, "fail-rate", 0, "share of requests to answer 503 with Retry-After: 1 (0 to 1)")
	f.DurationVar(&delay, "delay", 0, "wait this long before answering each request")
	_ = cmd.MarkFlagRequired("secret")
	return cmd
}
