package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// printsJSON is a command that asks the running gateway one thing and
// prints its answer as indented JSON.
func printsJSON(use, short string, args cobra.PositionalArgs, ask func(ctx context.Context, args []string) (any, error)) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: args,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := ask(cmd.Context(), args)
			if err != nil {
				return err
			}
			return printJSON(cmd, v)
		}}
}

// onSink is a command that has the running gateway do one thing to the
// sink its one argument names, then says so: done is a format of the name.
func onSink(use, short, done string, do func(ctx context.Context, name string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := do(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), done+"\n", args[0])
			return nil
		}}
}
