package config_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Listeners without authentication on a reachable address, and webhook
// hosts that name an interface, are refused unless explicitly allowed.
func TestSecurityProblems(t *testing.T) {
	hook := func(url string) string {
		return "sinks:\n  - name: a\n    events: [\">\"]\n    webhook:\n      url: " + url + "\n      secrets: [\"" + secret + "\"]\n"
	}
	tests := []struct {
		name, src string
		want      string // "" means valid
	}{
		{"zoned webhook host", hook(`"http://[::1%25lo]:8080/"`), `sinks[0].webhook.url: "http://[::1%25lo]:8080/": the host names a network interface (IPv6 zone)`},
		{"zoned link-local host", hook(`"https://[fe80::1%25eth0]/hook"`), "IPv6 zone"},
		{"unzoned IPv6 host", hook(`"https://[2001:db8::1]/hook"`), ""},

		{"admin on all interfaces without token", "admin: {listen: \"0.0.0.0:8080\"}\n", "admin.listen: \"0.0.0.0:8080\" is not a loopback address and admin.token is empty"},
		{"admin on empty host without token", "admin: {listen: \":8080\"}\n", "admin.listen"},
		{"admin on a LAN address without token", "admin: {listen: \"192.168.1.5:8080\"}\n", "admin.listen"},
		{"admin on a name without token", "admin: {listen: \"switchyard.internal:8080\"}\n", "admin.listen"},
		{"admin on all interfaces with token", "admin: {listen: \"0.0.0.0:8080\", token: t0k}\n", ""},
		{"admin on all interfaces, explicitly open", "admin: {listen: \"0.0.0.0:8080\", insecure_no_auth: true}\n", ""},
		{"admin on loopback without token", "admin: {listen: \"127.0.0.1:8080\"}\n", ""},
		{"admin on localhost without token", "admin: {listen: \"localhost:8080\"}\n", ""},
		{"admin on ::1 without token", "admin: {listen: \"[::1]:8080\"}\n", ""},

		{"embedded nats on all interfaces", "nats: {embedded: {listen: \"0.0.0.0:4222\"}}\n", "nats.embedded.listen: \"0.0.0.0:4222\" is not a loopback address"},
		{"embedded nats on empty host", "nats: {embedded: {listen: \":4222\"}}\n", "nats.embedded.listen"},
		{"embedded nats on all interfaces, explicitly open", "nats: {embedded: {listen: \"0.0.0.0:4222\", insecure_no_auth: true}}\n", ""},
		{"embedded nats on loopback", "nats: {embedded: {listen: \"127.0.0.1:4222\"}}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("sec.yaml", []byte(tt.src), env(nil))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got:\n%v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
		})
	}
}

// /v1/config and `validate --against` show a redacted config: no NATS
// password, no webhook query token, yet a changed one still shows in a plan.
func TestRedactedHidesURLSecrets(t *testing.T) {
	parse := func(natsPW, token string) *config.Config {
		src := "nats: {url: \"nats://gw:" + natsPW + "@127.0.0.1:4222\"}\n" +
			"sinks:\n  - name: a\n    events: [\">\"]\n    webhook:\n      url: \"https://hooks.example/in/abc?token=" + token + "\"\n      secrets: [\"" + secret + "\"]\n"
		cfg, err := config.Parse("r.yaml", []byte(src), env(nil))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := parse("NATSPASSWORD", "QUERYTOKEN")
	r := config.Redacted(cfg)
	for _, s := range []string{r.NATS.URL, webhookOf(&r.Sinks[0]).URL} {
		if strings.Contains(s, "NATSPASSWORD") || strings.Contains(s, "QUERYTOKEN") {
			t.Errorf("redacted URL %q shows a secret", s)
		}
	}
	if !strings.HasPrefix(r.NATS.URL, "nats://gw:sha256") || !strings.HasPrefix(webhookOf(&r.Sinks[0]).URL, "https://hooks.example/in/abc?token=sha256") {
		t.Errorf("redacted URLs %q, %q should keep everything but the secrets", r.NATS.URL, webhookOf(&r.Sinks[0]).URL)
	}
	if cfg.NATS.URL != "nats://gw:NATSPASSWORD@127.0.0.1:4222" {
		t.Errorf("Redacted changed the original: %q", cfg.NATS.URL)
	}
	if p := config.Diff(r, config.Redacted(parse("NATSPASSWORD", "QUERYTOKEN"))); !p.Empty() {
		t.Errorf("same config, plan %v", p)
	}
	p := config.Diff(r, config.Redacted(parse("other", "other")))
	if len(p.Restart) != 1 || p.Restart[0] != "nats" || len(p.Changed["a"]) != 1 || p.Changed["a"][0] != "webhook.url" {
		t.Errorf("changed secrets, plan %+v", p)
	}
}
