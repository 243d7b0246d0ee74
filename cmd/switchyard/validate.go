package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

func validateCmd() *cobra.Command {
	var path, against, token string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file and print every problem as FILE:LINE: field: message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				var ps config.Problems
				if errors.As(err, &ps) {
					for _, p := range ps {
						cmd.PrintErrln(p.String())
					}
					cmd.PrintErrf("%s: %d problem(s)\n", path, len(ps))
				} else {
					cmd.PrintErrln(err)
				}
				return exitError{1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d sinks)\n", path, len(cfg.Sinks))
			if against == "" {
				return nil
			}
			c := &admin.Client{BaseURL: against, Token: envToken(token)}
			running, err := c.RunningConfig(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "a reload of %s would change:\n%s", against, config.Diff(running, config.Redacted(cfg)))
			return nil
		},
	}
	cmd.Flags().StringVar(&against, "against", "", "admin URL of a running gateway: show what a reload with this file would change")
	cmd.Flags().StringVar(&token, "token", "", "admin bearer token, with --against (default $SWITCHYARD_ADMIN_TOKEN)")
	cmd.Flags().StringVarP(&path, "config", "c", "config/switchyard.yaml", "config file (YAML)")
	return cmd
}
