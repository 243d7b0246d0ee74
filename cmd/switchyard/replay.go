package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

func replayCmd() *cobra.Command {
	var af adminFlags
	var sinkName, since, until string
	var types []string
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-deliver a time range of the stream to one sink, with progress",
		Long: `Re-deliver the events the stream holds between --since and --until (default: now)
to one sink only, through a temporary consumer. Receivers see the original event ids and
can de-duplicate. Progress (done/total, rate, ETA) is shown until the replay ends;
Ctrl-C cancels it.`,
		Example: `  switchyard replay --sink orders --since 2h
  switchyard replay --sink orders --since 2026-11-23T08:00:00Z --until 2026-11-23T09:00:00Z --types order.created`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sinkName == "" || since == "" {
				return fmt.Errorf("--sink and --since are required")
			}
			var req gatewayapi.ReplayRequest
			if err := parseWindow(since, until, &req.Since, &req.Until); err != nil {
				return err
			}
			req.Types = types
			c := af.client()
			st, err := c.StartReplay(cmd.Context(), sinkName, req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			live := isTerminal(os.Stdout)
			fmt.Fprintf(out, "replay %s: %d events of %s since %s\n", st.ID, st.Total, sinkName, st.Since.Format(time.RFC3339))
			cancelOnServer := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				cst, err := c.CancelReplay(ctx, st.ID)
				if err != nil {
					return fmt.Errorf("replay %s: cancel: %w", st.ID, err)
				}
				fmt.Fprintf(out, "\nreplay %s canceled after %d of %d events\n", cst.ID, cst.Done, cst.Total)
				return nil
			}
			for st.State == "running" {
				select {
				case <-cmd.Context().Done():
					return cancelOnServer()
				case <-time.After(500 * time.Millisecond):
				}
				next, err := c.Replay(cmd.Context(), st.ID)
				if cmd.Context().Err() != nil {
					return cancelOnServer()
				}
				if err != nil {
					return err
				}
				st = next
				line := replayLine(st)
				if live {
					fmt.Fprintf(out, "\r%s", line)
				} else {
					fmt.Fprintln(out, line)
				}
			}
			fmt.Fprintf(out, "\nreplay %s %s: %d events\n", st.ID, st.State, st.Done)
			if st.State != "done" {
				return fmt.Errorf("replay %s: %s %s", st.ID, st.State, st.Error)
			}
			return nil
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&sinkName, "sink", "", "the sink to re-deliver to")
	f.StringVar(&since, "since", "", "start: RFC 3339 or a duration ago (2h)")
	f.StringVar(&until, "until", "", "end: RFC 3339 or a duration ago (default now)")
	f.StringSliceVar(&types, "types", nil, "only these event types (wildcards allowed), comma-separated")
	return cmd
}

func replayLine(st gatewayapi.ReplayStatus) string {
	const width = 30
	filled := width
	if st.Total > 0 {
		filled = int(float64(width) * float64(st.Done) / float64(st.Total))
	}
	return fmt.Sprintf("[%s%s] %d/%d  %.0f events/s  ETA %s   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		st.Done, st.Total, st.Rate, (time.Duration(st.ETASeconds) * time.Second).String())
}

// parseWhen reads RFC 3339 or a duration ago.
func parseWhen(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("%q: give RFC 3339 or a duration ago such as 2h", v)
	}
	return t, nil
}

// parseWindow reads the --since and --until flags' values (each RFC 3339,
// a duration ago, or empty for no bound) into *from and *to.
func parseWindow(since, until string, from, to *time.Time) error {
	for _, w := range []struct {
		v   string
		dst *time.Time
	}{{since, from}, {until, to}} {
		if w.v == "" {
			continue
		}
		t, err := parseWhen(w.v)
		if err != nil {
			return err
		}
		*w.dst = t
	}
	return nil
}
