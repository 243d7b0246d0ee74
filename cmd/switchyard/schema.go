package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/switchyard-dev/switchyard/pkg/schema"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

func schemaCmd() *cobra.Command {
	var readme string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the config file's JSON Schema, generated from the sink kinds and ingest providers compiled in",
		Long: `Print the JSON Schema of the config file. Editors that speak the YAML language
server pick it up from a first line such as
  # yaml-language-server: $schema=../config/switchyard.schema.json
With --readme FILE, rewrite FILE's generated tables instead: the configuration
reference and the ingest providers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if readme != "" {
				b, err := os.ReadFile(readme)
				if err != nil {
					return err
				}
				out, err := schema.WithTable(string(b), sink.Default)
				if err != nil {
					return fmt.Errorf("%s: %w", readme, err)
				}
				return os.WriteFile(readme, []byte(out), 0o644)
			}
			b, err := schema.JSON(sink.Default)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&readme, "readme", "", "rewrite this README's generated config reference table (README.md)")
	cmd.Flags().Lookup("readme").NoOptDefVal = "README.md"
	return cmd
}
