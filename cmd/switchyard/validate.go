package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

func validateCmd() *cobra.Command {
	var path string
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
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "config/switchyard.yaml", "config file (YAML)")
	return cmd
}
