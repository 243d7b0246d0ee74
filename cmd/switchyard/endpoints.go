package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// readDoc reads a sink definition or a patch, YAML or JSON (JSON is
// YAML), from a file or "-" for stdin, as JSON for the API.
func readDoc(path string) (json.RawMessage, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf("%s: a sink or a patch is a mapping (a JSON object)", path)
	}
	return json.Marshal(doc)
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// endpointCmds are the sinks subcommands of the endpoints API.
func endpointCmds(af *adminFlags) []*cobra.Command {
	var file string
	create := printsJSON("create -f sink.yaml|sink.json", "Create a sink through the API (a webhook sink with no secret gets one, printed once)", cobra.NoArgs,
		func(ctx context.Context, _ []string) (any, error) {
			def, err := readDoc(file)
			if err != nil {
				return nil, err
			}
			return af.client().CreateSink(ctx, def)
		})
	create.Flags().StringVarP(&file, "file", "f", "", "the sink, YAML or JSON (- for stdin)")
	_ = create.MarkFlagRequired("file")

	get := printsJSON("get NAME", "Show a sink's definition (secrets as fingerprints) and live state", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) { return af.client().GetSink(ctx, args[0]) })
	var patchFile string
	update := printsJSON("update NAME -f patch.yaml|patch.json", "Change an API sink with a JSON merge patch (fingerprints sent back keep their secrets)", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) {
			patch, err := readDoc(patchFile)
			if err != nil {
				return nil, err
			}
			return af.client().UpdateSink(ctx, args[0], patch)
		})
	update.Flags().StringVarP(&patchFile, "file", "f", "", "the merge patch, YAML or JSON (- for stdin)")
	_ = update.MarkFlagRequired("file")

	del := onSink("delete NAME", "Delete an API sink with its consumer and dead letters", "sink %s deleted",
		func(ctx context.Context, name string) error { return af.client().DeleteSink(ctx, name) })
	var grace time.Duration
	rotate := &cobra.Command{
		Use:   "rotate-secret NAME",
		Short: "Give an API webhook sink a new signing secret (printed once); the old one signs too during the grace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := af.client().RotateSecret(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new secret: %s\nthe previous secret stops signing at %s\n", res.Secret, res.PreviousExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the previous secret keeps signing")

	var testType, testData string
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "Send one test event straight to a sink's destination and show its answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := gatewayapi.TestRequest{Type: testType}
			if testData != "" {
				req.Data = json.RawMessage(testData)
			}
			res, err := af.client().TestSink(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if err := printJSON(cmd, res); err != nil {
				return err
			}
			if !res.OK {
				return exitError{code: 1}
			}
			return nil
		},
	}
	test.Flags().StringVar(&testType, "type", "", "event type (default switchyard.test)")
	test.Flags().StringVar(&testData, "data", "", "event data, JSON")

	history := printsJSON("history NAME", "Show an API sink's changes: who, when, what", cobra.ExactArgs(1),
		func(ctx context.Context, args []string) (any, error) { return af.client().SinkHistory(ctx, args[0]) })
	return []*cobra.Command{create, get, update, del, rotate, test, history}
}
