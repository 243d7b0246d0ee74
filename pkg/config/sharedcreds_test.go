package config_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// One string may not be two callers' credential: an ingest token (a
// producer's, maybe a tenant's) or a source's signing secret (which the
// provider holds) equal to admin.token gives its holder the operator's
// power on the admin API, and a source secret equal to an ingest token
// lets the provider publish as that token (any tenant, for an unbound
// one). Each caller has exactly its power only when each has its own.
func TestSharedCredentialsRefused(t *testing.T) {
	const admin = "admin-token-0123456789"
	const ingestTok = "ingest-token-0123456789"
	src := func(adminTok, tok, secret string) string {
		return "admin: {listen: \"0.0.0.0:8080\", token: " + adminTok + "}\n" +
			"ingest:\n  listen: \"127.0.0.1:8081\"\n  tokens:\n    - {name: acme, token: " + tok + ", tenant: acme}\n" +
			"sources:\n  - {name: gh, verify: github, secrets: [other-secret, " + secret + "]}\n"
	}
	tests := []struct {
		name, src string
		want      string // "" means valid
	}{
		{"each its own", src(admin, ingestTok, "gh-secret"), ""},
		{"ingest token is the admin token", src(admin, admin, "gh-secret"), "ingest.tokens[0].token: the same as admin.token"},
		{"source secret is the admin token", src(admin, ingestTok, admin), "sources[0].secrets[1]: the same as admin.token"},
		{"source secret is an ingest token", src(admin, ingestTok, ingestTok), "sources[0].secrets[1]: the same as ingest.tokens[0].token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("creds.yaml", []byte(tt.src), env(nil))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got:\n%v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), admin) || strings.Contains(err.Error(), ingestTok)) {
				t.Errorf("the problem shows a credential:\n%v", err)
			}
		})
	}
}
