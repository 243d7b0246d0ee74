package config_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A sink with two destination blocks is refused, and each block is still
// judged: every problem shows in one pass.
func TestEveryBlockOfATwoBlockSinkIsJudged(t *testing.T) {
	src := "sinks:\n  - name: a\n    events: [\">\"]\n    webhook: {url: \"https://x.example\", secrets: [nope]}\n    gocloud: {url: \"ftp://x\"}\n"
	_, err := config.Parse("two.yaml", []byte(src), env(nil))
	for _, want := range []string{"two.yaml:2: sinks[0]: needs exactly one destination block", "two.yaml:4: sinks[0].webhook.secrets[0]:", "two.yaml:5: sinks[0].gocloud.url: scheme \"ftp\""} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems:\n%v\nwant one containing %q", err, want)
		}
	}
}
