package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	_ "github.com/switchyard-dev/switchyard/pkg/ingest/providers"
	"github.com/switchyard-dev/switchyard/pkg/schema"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// The committed schema is what the code generates: run
// `go run ./cmd/switchyard schema > config/switchyard.schema.json`.
func TestCommittedSchemaIsGenerated(t *testing.T) {
	want, err := schema.JSON(sink.Default)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root(t), "config", "switchyard.schema.json"))
	if err != nil || !bytes.Equal(got, want) {
		if os.Getenv("SWITCHYARD_UPDATE") != "" {
			os.WriteFile(filepath.Join(root(t), "config", "switchyard.schema.json"), want, 0o644)
		}
		t.Fatalf("config/switchyard.schema.json differs from the code (%v): regenerate it with `go run ./cmd/switchyard schema > config/switchyard.schema.json`", err)
	}
}

// The README's reference table is what the code generates: its defaults
// are the code's, and every field is documented.
func TestREADMETableIsGenerated(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := schema.TableIn(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	want := schema.Table(sink.Default)
	if got != want {
		if os.Getenv("SWITCHYARD_UPDATE") != "" {
			updated, _ := schema.WithTable(string(readme), sink.Default)
			os.WriteFile(filepath.Join(root(t), "README.md"), []byte(updated), 0o644)
		}
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for k := range max(len(gl), len(wl)) {
			if k >= len(gl) || k >= len(wl) || gl[k] != wl[k] {
				t.Errorf("README.md's config reference drifted from the code at row %d:\n have %q\n want %q\nregenerate it with `go run ./cmd/switchyard schema --readme`", k, at(gl, k), at(wl, k))
				break
			}
		}
	}
}

// The README's ingest provider table is what the provider registry
// generates: a provider's row comes with its file.
func TestREADMEProviderTableIsGenerated(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := schema.ProviderTableIn(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	want := schema.ProviderTable(provider.Default)
	if got != want {
		if os.Getenv("SWITCHYARD_UPDATE") != "" {
			updated, _ := schema.WithTable(string(readme), sink.Default)
			os.WriteFile(filepath.Join(root(t), "README.md"), []byte(updated), 0o644)
		}
		t.Errorf("README.md's ingest provider table drifted from pkg/ingest/providers:\n have %q\n want %q\nregenerate it with `go run ./cmd/switchyard schema --readme`", got, want)
	}
	for _, name := range provider.Default.Names(false) {
		if !strings.Contains(got, "| `"+name+"` |") {
			t.Errorf("no row for provider %s", name)
		}
	}
}

// The schema's verify lists the registered providers, as the loader
// accepts them, and so does the reference's row.
func TestSchemaListsProviders(t *testing.T) {
	b, err := schema.JSON(sink.Default)
	if err != nil {
		t.Fatal(err)
	}
	names := provider.Default.Names(false)
	if len(names) < 5 {
		t.Fatalf("providers %v: the built-in ones are not registered", names)
	}
	enum, _ := json.Marshal(names)
	if !bytes.Contains(bytes.Join(bytes.Fields(b), nil), append([]byte(`"enum":`), enum...)) {
		t.Errorf("schema has no verify enum %s", enum)
	}
	if table := schema.Table(sink.Default); !strings.Contains(table, "| `sources[].verify` | required | "+provider.OneOf(names, "`")+" |") {
		t.Errorf("the reference's sources[].verify row does not list %v", names)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func TestEveryFieldDocumented(t *testing.T) {
	table := schema.Table(sink.Default)
	for _, f := range schema.Fields(sink.Default) {
		last := f[strings.LastIndex(f, ".")+1:]
		if !strings.Contains(table, "`"+f+"`") && !slices.ContainsFunc(strings.Split(table, "\n"), func(row string) bool {
			return strings.Contains(row, " / `"+last+"`") && strings.Contains(row, "`"+f[:strings.LastIndex(f, ".")+1])
		}) {
			t.Errorf("%s has no row in the config reference (config.Docs or its kind's Spec.Fields)", f)
		}
	}
}

// Editors find the schema from the examples' first line.
func TestExamplesNameTheSchema(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root(t), "config", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=./switchyard.schema.json\n") {
			t.Errorf("%s: first line should be # yaml-language-server: $schema=./switchyard.schema.json", f)
		}
	}
}
