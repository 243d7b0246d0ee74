package chartcheck

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// lintProblems runs Helm's linter as `helm lint --strict` does
// (action.Lint: every message of warning severity or above fails), built
// from the SDK already compiled here rather than the helm CLI, which would
// add about 200 packages (4 CPU-minutes cold) to CI.
func lintProblems(values map[string]any) []string {
	l := lint.AllWithKubeVersionAndSchemaValidation(chartDir, values, "switchyard", nil, false)
	var problems []string
	for _, m := range l.Messages {
		if m.Severity >= support.WarningSev {
			problems = append(problems, m.Error())
		}
	}
	return problems
}

// TestHelmLint lints the chart with its defaults and each example.
func TestHelmLint(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			values, err := ReadValues(c.files...)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range lintProblems(values) {
				t.Error(p)
			}
		})
	}
}

// TestHelmLintFails keeps TestHelmLint honest: the linter reports a value
// the schema refuses.
func TestHelmLintFails(t *testing.T) {
	problems := lintProblems(map[string]any{"shutdownGrace": 30})
	if !strings.Contains(strings.Join(problems, "\n"), "shutdownGrace") {
		t.Errorf("lint of a misspelt value: %q, want a problem naming shutdownGrace", problems)
	}
}
