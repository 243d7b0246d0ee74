package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// adminFlags are the flags every command that talks to a running gateway shares.
type adminFlags struct{ url, token string }

// register declares --admin and --token on cmd and its subcommands. Their
// defaults come from the environment when the command runs (client), not
// when the flags are declared: --help then never prints a variable's value.
func (a *adminFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&a.url, "admin", "", "admin API of the running gateway (default $SWITCHYARD_ADMIN, else http://127.0.0.1:8080)")
	cmd.PersistentFlags().StringVar(&a.token, "token", "", "admin bearer token (default $SWITCHYARD_ADMIN_TOKEN)")
}

// client is the admin API client the flags, else the environment, name.
func (a *adminFlags) client() *admin.Client {
	u := a.url
	if u == "" {
		u = os.Getenv("SWITCHYARD_ADMIN")
	}
	if u == "" {
		u = "http://127.0.0.1:8080"
	}
	return &admin.Client{BaseURL: u, Token: envToken(a.token)}
}

// envToken is the --token flag's value, else SWITCHYARD_ADMIN_TOKEN.
func envToken(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("SWITCHYARD_ADMIN_TOKEN")
}

func sinksCmd() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{Use: "sinks", Short: "List, create, change, test, pause and resume sinks of a running gateway"}
	af.register(cmd)
	var reason string
	pause := onSink("pause NAME", "Stop delivering to a sink; its backlog stays in the stream (survives restarts)", "sink %s paused",
		func(ctx context.Context, name string) error { return af.client().Pause(ctx, name, reason) })
	pause.Flags().StringVar(&reason, "reason", "", "why, shown in status and the state event")
	resume := onSink("resume NAME", "Resume a paused sink; its backlog drains", "sink %s resumed",
		func(ctx context.Context, name string) error { return af.client().Resume(ctx, name) })
	list := &cobra.Command{
		Use:   "list",
		Short: "List the sinks (same table as status)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sinks, err := af.client().Sinks(cmd.Context())
			if err != nil {
				return err
			}
			printStatus(cmd, sinks, nil, 0)
			return nil
		},
	}
	cmd.AddCommand(list, pause, resume)
	cmd.AddCommand(endpointCmds(&af)...)
	return cmd
}

func statusCmd() *cobra.Command {
	var af adminFlags
	var watch time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "A table of the sinks: state, events/s, pending, success rate, dead letters",
		Long: `Print each sink of a running gateway: its delivery (dedicated or shared), its state (running, paused, open, half_open),
delivery rate, backlog (pending, ack pending, redelivered), in flight, success rate of
attempts, dead letters and last error. With --watch it refreshes; events/s is measured
between refreshes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := af.client()
			var prev []gatewayapi.SinkStatus
			var prevAt time.Time
			for {
				sinks, err := c.Sinks(cmd.Context())
				if err != nil {
					return err
				}
				now := time.Now()
				if watch > 0 {
					fmt.Fprint(cmd.OutOrStdout(), "\033[H\033[2J")
				}
				printStatus(cmd, sinks, prev, now.Sub(prevAt))
				_ = printIngest(cmd.Context(), cmd.OutOrStdout(), c) // best effort: the sinks are what status is for
				if watch <= 0 {
					return nil
				}
				prev, prevAt = sinks, now
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	af.register(cmd)
	cmd.Flags().DurationVarP(&watch, "watch", "w", 0, "refresh every interval (e.g. 2s) until interrupted")
	return cmd
}

func printStatus(cmd *cobra.Command, sinks, prev []gatewayapi.SinkStatus, elapsed time.Duration) {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tKIND\tDELIVERY\tSTATE\tEVENTS/S\tPENDING\tACK PENDING\tOLDEST\tREDELIVERED\tIN FLIGHT\tSUCCESS\tP99\tDEAD LETTERS\tLAST ERROR")
	before := map[string]gatewayapi.SinkStatus{}
	for _, p := range prev {
		before[p.Name] = p
	}
	for _, s := range sinks {
		rate := "-"
		if p, ok := before[s.Name]; ok && elapsed > 0 && s.Delivered >= p.Delivered {
			rate = fmt.Sprintf("%.1f", float64(s.Delivered-p.Delivered)/elapsed.Seconds())
		}
		success := "-"
		if total := s.Delivered + s.Failed; total > 0 {
			success = fmt.Sprintf("%.1f%%", 100*float64(s.Delivered)/float64(total))
		}
		lastErr := s.LastError
		if len(lastErr) > 60 {
			lastErr = lastErr[:57] + "..."
		}
		delivery := s.Delivery
		if delivery == "" {
			delivery = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%s\t%s\t%d\t%s\n", s.Name, s.Kind, delivery, s.State, rate, s.Pending, s.AckPending,
			secs(s.OldestPendingSeconds), s.Redelivered, s.InFlight, success, secs(s.LatencyP99Seconds), s.DeadLetters, strings.ReplaceAll(lastErr, "\n", " "))
	}
	tw.Flush()
}

func dlqCmd() *cobra.Command {
	var af adminFlags
	var f deadletter.Filter
	var since, until string
	var limit, offset int // list's only: a redrive or purge takes every match
	var yes bool
	cmd := &cobra.Command{Use: "dlq", Short: "List, redrive or purge a sink's dead letters"}
	af.register(cmd)
	filter := func() (deadletter.Filter, error) {
		out := f
		err := parseWindow(since, until, &out.Since, &out.Until)
		return out, err
	}
	addFilters := func(c *cobra.Command) {
		c.Flags().StringVar(&f.Type, "type", "", "event type, wildcards allowed (order.*); a tenant's without the tenant")
		c.Flags().StringVar(&f.Tenant, "tenant", "", "only this tenant's (default: every tenant's and the unscoped)")
		c.Flags().StringVar(&f.Reason, "reason", "", "text the reason contains (e.g. 410)")
		c.Flags().StringVar(&since, "since", "", "failed at or after: RFC 3339 or a duration ago (2h)")
		c.Flags().StringVar(&until, "until", "", "failed before: RFC 3339 or a duration ago")
	}
	list := &cobra.Command{
		Use: "list SINK", Short: "List dead letters", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := filter()
			if err != nil {
				return err
			}
			flt.Limit, flt.Offset = limit, offset
			recs, err := af.client().DeadLetters(cmd.Context(), args[0], flt)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tID\tTYPE\tTENANT\tSTATUS\tATTEMPTS\tFAILED AT\tREASON")
			for _, r := range recs {
				tenant := r.Tenant
				if tenant == "" {
					tenant = "-"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Seq, r.ID, r.Type, tenant, r.Status, r.Attempts, r.Time.Format(time.RFC3339), r.Reason)
			}
			return tw.Flush()
		},
	}
	addFilters(list)
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (a page is at most 1000; use --offset for more)")
	list.Flags().IntVar(&offset, "offset", 0, "skip this many (paging)")
	// onMatches is a command that acts on every dead letter of the sink its
	// argument names that the filter flags select; done is a format of the
	// count and the sink.
	onMatches := func(use, short, done string, do func(ctx context.Context, sink string, f deadletter.Filter) (int, error)) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				flt, err := filter()
				if err != nil {
					return err
				}
				n, err := do(cmd.Context(), args[0], flt)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), done+"\n", n, args[0])
				return nil
			}}
		addFilters(c)
		return c
	}
	redrive := onMatches("redrive SINK", "Re-deliver dead letters to that sink only", "redriven %d dead letters to %s",
		func(ctx context.Context, sink string, f deadletter.Filter) (int, error) {
			return af.client().Redrive(ctx, sink, f)
		})
	purge := onMatches("purge SINK", "Delete dead letters for good", "deleted %d dead letters of %s",
		func(ctx context.Context, sink string, f deadletter.Filter) (int, error) {
			return af.client().Purge(ctx, sink, f)
		})
	purge.PreRunE = func(*cobra.Command, []string) error {
		if !yes {
			return fmt.Errorf("purge deletes dead letters for good: add --yes")
		}
		return nil
	}
	purge.Flags().BoolVar(&yes, "yes", false, "confirm")
	cmd.AddCommand(list, redrive, purge)
	return cmd
}

func attemptsCmd() *cobra.Command {
	var af adminFlags
	var sinkName, eventID, typ, outcome, since, until string
	var status, limit int
	cmd := &cobra.Command{
		Use:   "attempts",
		Short: "Query the attempt log: one line per delivery attempt",
		Example: `  switchyard attempts --event-id evt_123
  switchyard attempts --sink orders --status 500 --since 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := attempts.Query{Sink: sinkName, EventID: eventID, Type: typ, Outcome: outcome, Status: status, Limit: limit}
			if err := parseWindow(since, until, &q.Since, &q.Until); err != nil {
				return err
			}
			recs, err := af.client().Attempts(cmd.Context(), q)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tSINK\tEVENT\tTYPE\tATTEMPT\tOUTCOME\tSTATUS\tMS\tERROR")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%.1f\t%s\n", r.Time.Format(time.RFC3339), r.Sink, r.EventID, r.Type,
					r.Attempt, r.Outcome, r.Status, r.DurationMS, strings.ReplaceAll(r.Error, "\n", " "))
			}
			return tw.Flush()
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&sinkName, "sink", "", "only this sink")
	f.StringVar(&eventID, "event-id", "", "only this event")
	f.StringVar(&typ, "type", "", "event type, wildcards allowed")
	f.StringVar(&outcome, "outcome", "", "delivered, retried, rate_limited, dead_lettered or canceled")
	f.IntVar(&status, "status", 0, "only this status code")
	f.StringVar(&since, "since", "", "RFC 3339 or a duration ago (1h)")
	f.StringVar(&until, "until", "", "RFC 3339 or a duration ago")
	f.IntVar(&limit, "limit", 100, "at most this many (at most 1000)")
	return cmd
}

func secs(s float64) string {
	if s <= 0 {
		return "-"
	}
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}
