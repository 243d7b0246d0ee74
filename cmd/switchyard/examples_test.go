package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

var exampleEnv = map[string]string{
	"ORDERS_SECRET":          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"ORDERS_API_KEY":         "key",
	"SWITCHYARD_ADMIN_TOKEN": "token",
	"BILLING_SECRET_NEW":     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"BILLING_SECRET_OLD":     "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24=",
	"BILLING_INGEST_TOKEN":   "billing-ingest-token-0123",
	"OPS_INGEST_TOKEN":       "ops-ingest-token-0123456",
	"STRIPE_WEBHOOK_SECRET":  "whsec_stripe_example",
	"GITHUB_WEBHOOK_SECRET":  "github-example-secret",
}

// Every example config passes `switchyard validate`, run as a user runs it.
func TestExampleConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob("../../config/*.yaml")
	if len(files) < 4 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		cmd := exec.Command(binary, "validate", "--config", f)
		cmd.Env = os.Environ()
		for k, v := range exampleEnv {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ok") {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}

// Every YAML block README.md shows is a config that validates.
func TestReadmeConfigsValidate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README has no yaml block")
	}
	lookup := func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok }
	for i, b := range blocks {
		if _, err := config.Parse("README.md block "+string(rune('1'+i)), []byte(b[1]), lookup); err != nil {
			t.Errorf("README yaml block %d:\n%v", i+1, err)
		}
	}
}

// A bad file: exit 1 and every problem as FILE:LINE: field: message.
func TestValidateReportsProblems(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`sinks:
  - name: orders
    events: ["order.*"]
    concurency: 4
    webhook:
      url: https://example.com/hooks
      secrets: ["not-a-secret"]
      timeout: 15
`), 0o600)
	out, err := exec.Command(binary, "validate", "--config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	for _, want := range []string{
		bad + ":4: sinks[0].concurency: unknown field",
		bad + `:8: sinks[0].webhook.timeout: invalid duration "15"`,
		bad + `:7: sinks[0].webhook.secrets[0]: secret must start with "whsec_"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
