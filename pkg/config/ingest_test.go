package config_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

func TestIngestConfig(t *testing.T) {
	src := `
ingest:
  listen: "127.0.0.1:8090"
  max_body: 2MiB
  tokens:
    - {name: billing, token: "${TOK}", tenant: acme, rate_limit: 1000/s}
    - {token: "another-token-0123456789"}
sources:
  - {name: stripe, verify: stripe, secrets: ["whsec_stripe_one", "whsec_stripe_two"]}
  - {name: gh, verify: github, secrets: ["gh-secret"], tenant: acme, type_prefix: github}
  - {name: partner, verify: standard-webhooks, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}
  - {name: vendor, verify: hmac-sha256, secrets: ["v"], header: X-Signature, prefix: "sha256="}
`
	cfg, err := config.Parse("i.yaml", []byte(src), env(map[string]string{"TOK": "tok-from-env-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Ingest
	if in.Listen != "127.0.0.1:8090" || in.MaxBody.N != 2<<20 || len(in.Tokens) != 2 || in.Tokens[0].Token != "tok-from-env-0123456789" || in.Tokens[0].Tenant != "acme" {
		t.Fatalf("ingest: %+v", in)
	}
	if s := cfg.Sources; len(s) != 4 || s[0].TypePrefix != "stripe" || s[1].TypePrefix != "github" || s[3].Encoding != "hex" {
		t.Fatalf("sources defaults: %+v", s)
	}
	if d := config.Defaults(); d.Ingest.MaxBody.N != config.DefaultIngestMaxBody || d.Ingest.Listen != "" {
		t.Fatalf("defaults: %+v", d.Ingest)
	}

	// Redacted (what /v1/config shows) keeps names and fingerprints only.
	red, err := json.Marshal(config.Redacted(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tok-from-env-0123456789", "another-token-0123456789", "whsec_stripe_one", "whsec_stripe_two", "gh-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `"v"`} {
		if strings.Contains(string(red), secret) {
			t.Errorf("redacted config shows %s", secret)
		}
	}
	if !strings.Contains(string(red), config.Fingerprint("whsec_stripe_two")) || !strings.Contains(string(red), "billing") {
		t.Errorf("redacted config lost the fingerprints or names: %s", red)
	}
	if cfg.Ingest.Tokens[0].Token != "tok-from-env-0123456789" || cfg.Sources[0].Secrets[0] != "whsec_stripe_one" {
		t.Error("Redacted changed the original")
	}
	// A changed token shows in a plan of redacted configs, as a restart.
	other, err := config.Parse("i.yaml", []byte(src), env(map[string]string{"TOK": "tok-rotated-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if p := config.Diff(config.Redacted(cfg), config.Redacted(other)); len(p.Restart) != 1 || p.Restart[0] != "ingest" {
		t.Errorf("plan %+v, want a restart for ingest", p)
	}
}

func TestIngestConfigProblems(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"bad listen", "ingest: {listen: nope, tokens: [{token: 0123456789abcdef}]}\n", "ingest.listen: must be host:port"},
		{"listen with nothing to serve", "ingest: {listen: \"127.0.0.1:1\"}\n", "ingest.listen: set, but there are no ingest.tokens"},
		{"empty token", "ingest: {listen: \"127.0.0.1:1\", tokens: [{name: a, token: \"\"}]}\n", "ingest.tokens[0].token: missing"},
		{"short token", "ingest: {listen: \"127.0.0.1:1\", tokens: [{token: short}]}\n", "ingest.tokens[0].token: too short"},
		{"same token twice", "ingest: {listen: \"127.0.0.1:1\", tokens: [{token: 0123456789abcdef}, {token: 0123456789abcdef}]}\n", "ingest.tokens[1].token: the same token as ingest.tokens[0]"},
		{"bad tenant", "ingest: {listen: \"127.0.0.1:1\", tokens: [{token: 0123456789abcdef, tenant: a.b}]}\n", "ingest.tokens[0].tenant"},
		{"bad rate", "ingest: {listen: \"127.0.0.1:1\", tokens: [{token: 0123456789abcdef, rate_limit: fast}]}\n", "ingest.tokens[0].rate_limit"},
		{"sources without listener", "sources: [{name: s, verify: github, secrets: [x]}]\n", "sources: sources are served on ingest.listen"},
		{"unknown verify", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: paypal, secrets: [x]}]\n", "sources[0].verify: must be stripe, github"},
		{"no secrets", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: github}]\n", "sources[0].secrets: missing"},
		{"bad standard webhooks secret", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: standard-webhooks, secrets: [plain]}]\n", "sources[0].secrets[0]"},
		{"hmac without header", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: hmac-sha256, secrets: [x]}]\n", "sources[0].header: missing"},
		{"hmac bad encoding", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: hmac-sha256, secrets: [x], header: X-S, encoding: hex2}]\n", "sources[0].encoding"},
		{"header on github", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: github, secrets: [x], header: X-S}]\n", "for verify: hmac-sha256 only"},
		{"duplicate source", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: github, secrets: [x]}, {name: s, verify: github, secrets: [y]}]\n", "sources[1].name: duplicate source name"},
		{"bad source name", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: a/b, verify: github, secrets: [x]}]\n", "sources[0].name"},
		{"wildcard type prefix", "ingest: {listen: \"127.0.0.1:1\"}\nsources: [{name: s, verify: github, secrets: [x], type_prefix: \"gh.*\"}]\n", "sources[0].type_prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("i.yaml", []byte(tt.src), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("a problem quotes the token:\n%v", err)
			}
		})
	}
}
