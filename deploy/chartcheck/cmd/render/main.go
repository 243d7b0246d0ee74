// Command render writes deploy/kubernetes/ from deploy/helm/switchyard
// (deploy/render.sh runs it; chartcheck's tests check the files match).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/switchyard-dev/switchyard/deploy/chartcheck"
)

func main() {
	chart := flag.String("chart", "../helm/switchyard", "chart directory")
	out := flag.String("out", "../kubernetes", "output directory (its *.yaml files are replaced)")
	flag.Parse()
	if err := run(*chart, *out); err != nil {
		slog.Error("render", "err", err)
		os.Exit(1)
	}
}

func run(chart, out string) error {
	files, err := chartcheck.PlainManifests(chart)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Files of templates that no longer render must go too.
	old, err := filepath.Glob(filepath.Join(out, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(out, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Printf("wrote %d files to %s\n", len(files), out)
	return nil
}
