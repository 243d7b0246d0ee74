package config

import (
	"fmt"
	"net"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Ingest is the HTTP publish API and the provider webhooks' listener. It is
// a listener of its own so that producers can reach it without reaching
// the admin API.
type Ingest struct {
	// Listen is where the ingest API listens; empty: off.
	Listen string        `yaml:"listen"`
	Tokens []IngestToken `yaml:"tokens"`
	// MaxBody bounds one request's body.
	MaxBody ByteSize `yaml:"max_body"`
}

// IngestToken is one bearer token of the publish API.
type IngestToken struct {
	// Name labels metrics and logs; the token itself appears nowhere.
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// Tenant, when set, is the only tenant this token may publish for.
	Tenant string `yaml:"tenant"`
	// RateLimit caps the events this token may publish: "1000/s".
	RateLimit string `yaml:"rate_limit"`
}

// Source is one provider whose webhooks arrive at POST /ingest/<name>.
type Source struct {
	Name string `yaml:"name"`
	// Verify names the provider (pkg/ingest/provider's registry) whose
	// signatures, event ids and types the source's webhooks carry.
	Verify string `yaml:"verify"`
	// Secrets are tried in turn, so a secret can be rotated.
	Secrets    []string `yaml:"secrets"`
	Tenant     string   `yaml:"tenant"`
	TypePrefix string   `yaml:"type_prefix"`
	// Header, Encoding and Prefix describe the signature of a provider that
	// takes options (hmac-sha256).
	Header   string `yaml:"header"`
	Encoding string `yaml:"encoding"`
	Prefix   string `yaml:"prefix"`
	// IDHeader and TypeHeader name, for a provider that takes options
	// (hmac-sha256), the headers that hold
	// the event's id and type (else the body's "id" and "type").
	IDHeader   string `yaml:"id_header"`
	TypeHeader string `yaml:"type_header"`
}

// Verifiers a source may name: the built-in providers (pkg/ingest/providers
// registers them; these names are for Go code that builds a Source).
const (
	VerifyStripe           = "stripe"
	VerifyGitHub           = "github"
	VerifyShopify          = "shopify"
	VerifyStandardWebhooks = "standard-webhooks"
	VerifyHMAC             = "hmac-sha256"
)

// DefaultIngestMaxBody bounds an ingest request's body.
const DefaultIngestMaxBody = 1 << 20

// MaxIngestBatch is the most events one POST /v1/events may carry.
const MaxIngestBatch = 1000

func init() {
	Docs = append(Docs, ingestDocs...)
}

var ingestDocs = []FieldDoc{
	{Path: "ingest.listen", Default: "`\"\"` (off)", Doc: "where the ingest API listens (`POST /v1/events`, `POST /ingest/<source>`); a listener of its own, apart from the admin API"},
	{Path: "ingest.tokens[].token", Required: true, Doc: "a bearer token of the publish API (`${ENV}` works); compared in constant time, never shown or logged"},
	{Path: "ingest.tokens[].name", Doc: "labels the token's metrics and logs"},
	{Path: "ingest.tokens[].tenant", Doc: "when set, the only tenant the token may publish for (`403` for any other)"},
	{Path: "ingest.tokens[].rate_limit", Default: "`\"\"` (none)", Doc: "events per token: `N/s`, `N/m` or `N/h`, per replica; over it, `429` with `Retry-After`"},
	{Path: "ingest.max_body", Default: "`1MiB`", Doc: "largest request body; larger is `413`"},
	{Path: "sources[].name", Required: true, Doc: "a provider's webhooks arrive at `POST /ingest/<name>` on `ingest.listen`; 1–64 of `A-Z a-z 0-9 - _`"},
	// The doc of sources[].verify, the registered providers' names, is
	// written by pkg/schema from the registry.
	{Path: "sources[].verify", Required: true},
	{Path: "sources[].secrets", Required: true, Doc: "signing secrets, each tried (rotation); never shown"},
	{Path: "sources[].tenant", Doc: "publish under `tenants.<tenant>.`; empty: `events.`"},
	{Path: "sources[].type_prefix", Default: "the source's name", Doc: "events go to `events.<type_prefix>.<provider type>`"},
	{Path: "sources[].header", Also: []string{"sources[].encoding", "sources[].prefix"}, Doc: "`hmac-sha256` only: the signature header, `hex` or `base64`, and a prefix such as `sha256=`"},
	{Path: "sources[].id_header", Also: []string{"sources[].type_header"}, Doc: "`hmac-sha256` only: headers with the event id and type (else the body's `id` and `type`; no id: the body's SHA-256)"},
}

func (c *Config) applyIngestDefaults() {
	if c.Ingest.MaxBody.N == 0 {
		c.Ingest.MaxBody.N = DefaultIngestMaxBody
	}
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.TypePrefix == "" {
			s.TypePrefix = s.Name
		}
		if p := provider.Default.Get(s.Verify); p != nil && p.Defaults != nil {
			ps := s.Provider()
			p.Defaults(&ps)
			s.setProvider(ps)
		}
	}
}

func (c *Config) validateIngest(p *parser) {
	in := c.Ingest
	if in.Listen != "" {
		if _, _, err := net.SplitHostPort(in.Listen); err != nil {
			p.at("ingest.listen", "must be host:port: %v", err)
		}
		if len(in.Tokens) == 0 && len(c.Sources) == 0 {
			p.at("ingest.listen", "set, but there are no ingest.tokens and no sources: nothing could be published through it")
		}
	}
	tokens := map[string]int{}
	names := map[string]int{}
	for i, t := range in.Tokens {
		field := fmt.Sprintf("ingest.tokens[%d]", i)
		switch {
		case t.Token == "":
			p.at(field+".token", "missing (use ${ENV} to keep it out of the file)")
		case len(t.Token) < 16:
			p.at(field+".token", "too short: use at least 16 characters")
		}
		if prev, dup := tokens[t.Token]; dup && t.Token != "" {
			p.at(field+".token", "the same token as ingest.tokens[%d]", prev)
		}
		if t.Token != "" && t.Token == c.Admin.Token {
			p.at(field+".token", "the same as admin.token: its holder would have the operator's power; give each caller a token of its own")
		}
		tokens[t.Token] = i
		if t.Name != "" {
			if !nameRE.MatchString(t.Name) {
				p.at(field+".name", "%q: use 1 to 64 letters, digits, - and _", t.Name)
			}
			if prev, dup := names[t.Name]; dup {
				p.at(field+".name", "duplicate token name %q (also ingest.tokens[%d])", t.Name, prev)
			}
			names[t.Name] = i
		}
		if t.Tenant != "" {
			if err := subject.ValidTenant(t.Tenant); err != nil {
				p.at(field+".tenant", "%v", err)
			}
		}
		if t.RateLimit != "" {
			if _, err := ParseRate(t.RateLimit); err != nil {
				p.at(field+".rate_limit", "%v", err)
			}
		}
	}
	if len(c.Sources) > 0 && in.Listen == "" {
		p.at("sources", "sources are served on ingest.listen, which is empty")
	}
	seen := map[string]int{}
	for i := range c.Sources {
		s := &c.Sources[i]
		field := fmt.Sprintf("sources[%d]", i)
		if !nameRE.MatchString(s.Name) {
			p.at(field+".name", "%q: use 1 to 64 letters, digits, - and _ (it is the path /ingest/<name>)", s.Name)
		}
		if prev, dup := seen[s.Name]; dup {
			p.at(field+".name", "duplicate source name %q (also sources[%d])", s.Name, prev)
		}
		seen[s.Name] = i
		if len(s.Secrets) == 0 {
			p.at(field+".secrets", "missing: list at least one signing secret")
		}
		for j, sec := range s.Secrets {
			at := fmt.Sprintf("%s.secrets[%d]", field, j)
			// The provider holds its signing secret: it must not also be
			// another caller's credential.
			switch prev, isToken := tokens[sec]; {
			case sec == "":
				p.at(at, "empty")
			case sec == c.Admin.Token:
				p.at(at, "the same as admin.token: the provider would have the operator's power; give each caller a secret of its own")
			case isToken:
				p.at(at, "the same as ingest.tokens[%d].token: the provider could publish as that token; give each caller a secret of its own", prev)
			}
		}
		if s.Tenant != "" {
			if err := subject.ValidTenant(s.Tenant); err != nil {
				p.at(field+".tenant", "%v", err)
			}
		}
		if err := subject.ValidFilter(s.TypePrefix); err != nil || strings.ContainsAny(s.TypePrefix, "*>") {
			p.at(field+".type_prefix", "%q: must be one or more subject tokens without wildcards", s.TypePrefix)
		}
		validateProvider(p, field, s)
	}
}

// validateProvider checks what a source's provider reads of it, asking the
// provider registry.
func validateProvider(p *parser, field string, s *Source) {
	spec := provider.Default.Get(s.Verify)
	if spec == nil {
		names := provider.Default.Names(false)
		if len(names) == 0 {
			p.at(field+".verify", "%q: no ingest providers are registered (the binary must import pkg/ingest/providers)", s.Verify)
			return
		}
		p.at(field+".verify", "must be %s, got %q", provider.OneOf(names, ""), s.Verify)
		return
	}
	if spec.Validate != nil {
		spec.Validate(s.Provider(), func(f, format string, args ...any) {
			p.at(joinPath(field, f), format, args...)
		})
	}
	if !spec.Options && (s.Header != "" || s.Prefix != "" || s.IDHeader != "" || s.TypeHeader != "") {
		p.at(field, "header, prefix, id_header and type_header are for verify: %s only", provider.OneOf(provider.Default.Names(true), ""))
	}
}

// Provider is what the source's provider reads of it.
func (s Source) Provider() provider.Source {
	return provider.Source{Name: s.Name, Secrets: s.Secrets, Header: s.Header, Encoding: s.Encoding,
		Prefix: s.Prefix, IDHeader: s.IDHeader, TypeHeader: s.TypeHeader}
}

// setProvider takes back the options a provider's Defaults set.
func (s *Source) setProvider(ps provider.Source) {
	s.Header, s.Encoding, s.Prefix, s.IDHeader, s.TypeHeader = ps.Header, ps.Encoding, ps.Prefix, ps.IDHeader, ps.TypeHeader
}

// redactIngest replaces the ingest tokens and source secrets by their
// fingerprints in r, a copy of c.
func redactIngest(r, c *Config) {
	if c.Ingest.Tokens != nil {
		r.Ingest.Tokens = make([]IngestToken, len(c.Ingest.Tokens))
	}
	for i, t := range c.Ingest.Tokens {
		t.Token = fingerprint(t.Token)
		r.Ingest.Tokens[i] = t
	}
	if c.Sources != nil {
		r.Sources = make([]Source, len(c.Sources))
	}
	for i, s := range c.Sources {
		secrets := make([]string, len(s.Secrets))
		for j, sec := range s.Secrets {
			secrets[j] = fingerprint(sec)
		}
		s.Secrets = secrets
		r.Sources[i] = s
	}
}
