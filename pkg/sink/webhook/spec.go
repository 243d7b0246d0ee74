package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/redact"
	"github.com/switchyard-dev/switchyard/pkg/signing"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// Config is a webhook sink's block: a signed HTTPS destination.
type Config struct {
	URL                  string            `yaml:"url"`
	Secrets              []string          `yaml:"secrets"`
	Timeout              config.Duration   `yaml:"timeout"`
	Headers              map[string]string `yaml:"headers"`
	TLS                  config.TLS        `yaml:"tls"`
	AllowPrivateNetworks bool              `yaml:"allow_private_networks"`
	// Body is "envelope" (JSON with id, type, timestamp, data) or "raw"
	// (the producer's bytes unchanged).
	Body string `yaml:"body"`
}

// DefaultBody is the body mode when none is set.
const DefaultBody = "envelope"

func init() {
	sink.Register(sink.Spec[Config]{
		Kind:    "webhook",
		Summary: "Signed HTTPS POSTs (Standard Webhooks), one event a request",
		Fields: []config.FieldDoc{
			{Path: "url", Required: true, Doc: "`https://…` (or `http://…`)"},
			{Path: "secrets", Required: true, Doc: "`whsec_…` (HMAC-SHA256) or `whsk_…` (ed25519); the first signs, all listed sign while rotating"},
			{Path: "timeout", Doc: "per request"},
			{Path: "headers", Doc: "extra request headers"},
			{Path: "tls.ca_file", Doc: "extra CA for the receiver's certificate (added to the system pool)"},
			{Path: "tls.cert_file", Also: []string{"key_file"}, Doc: "client certificate (mTLS)"},
			{Path: "allow_private_networks", Doc: "let the SSRF guard pass loopback and private addresses"},
			{Path: "body", Doc: "`envelope` (JSON with id, type, timestamp, data) or `raw` (the producer's bytes)"},
		},
		Secrets:    []string{"secrets", "headers"},
		SecretURLs: []string{"url"},
		MaxBatch:   1,
		Defaults: func(c *Config) {
			if c.Body == "" {
				c.Body = DefaultBody
			}
		},
		SinkDefaults: func(s *config.Sink) {
			if s.Breaker.Enabled == nil {
				on := true
				s.Breaker.Enabled = &on
			}
		},
		Validate:     validate,
		APIUses:      apiUses,
		SecretHolder: &sink.SecretHolder{Field: "secrets", Generate: NewSecret},
		EditTarget:   true,
		Open: func(_ context.Context, c *Config, s config.Sink, env sink.Env) (sink.Driver, error) {
			cfg := *c
			if s.Confined {
				// An API sink without api.allow: [private_networks] is
				// guarded whatever its block says (a record stored before
				// the rule).
				cfg.AllowPrivateNetworks = false
			}
			return New(cfg, Options{UserAgent: env.UserAgent, MaxConns: s.Concurrency, OnDisable: env.Disable})
		},
	})
}

// NewSecret is a Standard Webhooks v1 secret: whsec_ and 24 random bytes
// in base64 (192 bits, as Svix issues them).
func NewSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// apiUses declares a url whose host is a private or loopback address: an
// API sink may deliver there only with api.allow: [private_networks] (the
// allow_private_networks field is governed by its name). A name is judged
// on the addresses it resolves to, when dialed.
func apiUses(w *Config) []config.Use {
	u, err := url.Parse(w.URL)
	if err != nil || w.AllowPrivateNetworks || !netguard.PrivateHost(u.Hostname()) {
		return nil
	}
	return []config.Use{{Field: "url", Allow: config.AllowPrivateNetworks,
		Why: fmt.Sprintf("delivers to %s, a private or loopback address, from the gateway's network position", u.Hostname())}}
}

func validate(w *Config, chk *config.Check) {
	u := chk.URL("url", w.URL, "the HTTPS endpoint to deliver to")
	switch {
	case u == nil:
	case u.Scheme != "https" && u.Scheme != "http":
		chk.At("url", "%q: scheme must be https (or http)", redact.URL(w.URL))
	case u.Host == "":
		chk.At("url", "%q: no host", redact.URL(w.URL))
	case strings.Contains(u.Hostname(), "%"):
		// A zone picks a local interface (fe80::1%eth0): never a public
		// receiver, and a way around address checks.
		chk.At("url", "%q: the host names a network interface (IPv6 zone); use an address or name without %%zone", redact.URL(w.URL))
	}
	if len(w.Secrets) == 0 {
		chk.At("secrets", "missing: at least one signing secret (whsec_…)")
	}
	for i, s := range w.Secrets {
		if err := signing.ParseKey(s); err != nil {
			chk.At(fmt.Sprintf("secrets[%d]", i), "%v", err)
		}
	}
	if w.Body != "envelope" && w.Body != "raw" {
		chk.At("body", "must be envelope or raw, got %q", w.Body)
	}
	for k := range w.Headers {
		if strings.HasPrefix(strings.ToLower(k), "webhook-") {
			chk.At("headers."+k, "webhook-* headers are set by the signer and cannot be overridden")
		}
	}
	chk.TLS("tls", w.TLS)
}
