package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind is one destination kind as the loader sees it: how to decode,
// default, validate and redact its block. Drivers do not implement it by
// hand: each registers a spec with pkg/sink, whose registry provides them.
type Kind interface {
	// Name is the kind's key in a sink's YAML, such as "webhook".
	Name() string
	// ConfigType is the struct the block decodes into; its yaml tags name
	// the fields (for lines, unknown-field checks and the schema).
	ConfigType() reflect.Type
	// Decode decodes the block into a new config of ConfigType (a
	// pointer), with the kind's defaults applied. A *yaml.TypeError names
	// the fields that did not decode; the rest are still set.
	Decode(n *yaml.Node) (any, error)
	// SinkDefaults sets the common fields this kind defaults differently
	// (webhooks turn the breaker on). It runs before the common defaults.
	SinkDefaults(s *Sink)
	// Validate reports every problem of a decoded block, each on a field
	// path relative to the block.
	Validate(cfg any, c *Check)
	// Timeout is how long one driver call may take.
	Timeout(cfg any) time.Duration
	// Redact returns a copy of the block with its secrets replaced by
	// fingerprint(secret).
	Redact(cfg any, fingerprint func(string) string) any
}

// orderer is a Kind whose driver keeps events of a key in order for some
// blocks (pkg/sink's registry provides it from a spec's OrderedBy):
// OrderedBy names the block's field that asks for it, "" when none.
// Shared delivery keeps no order per key, so such a sink must be
// dedicated.
type orderer interface {
	OrderedBy(cfg any) string
}

// OrderedBy is the path of the field of the sink's block that makes its
// driver keep the events of a key in order, such as
// "pubsub.ordering_key"; "" when the block orders nothing.
func (s *Sink) OrderedBy() string {
	k := s.Dest.kind
	if k == nil && DefaultKinds != nil {
		k = DefaultKinds.Kind(s.Kind())
	}
	if o, ok := k.(orderer); ok && s.Dest.Config != nil {
		if f := o.OrderedBy(s.Dest.Config); f != "" {
			return joinPath(s.Kind(), f)
		}
	}
	return ""
}

// Kinds is a set of destination kinds (pkg/sink's Registry).
type Kinds interface {
	// Kind returns the kind registered under name, or nil.
	Kind(name string) Kind
	// Names lists the registered kinds, sorted.
	Names() []string
}

// DefaultKinds is the set Load and Parse use. pkg/sink sets it to its
// default registry; a Loader can be given another.
var DefaultKinds Kinds

// Destination is a sink's destination block: its kind (the block's key in
// the YAML) and its settings, decoded by that kind's spec. Node keeps the
// block as written, with its lines.
type Destination struct {
	Kind   string
	Node   *yaml.Node
	Config any // a pointer to the kind's config type; a map when read from JSON

	kind   Kind // set by the loader
	blocks int  // destination blocks written in the sink
}

// Settings returns the sink's destination config as the driver's own type
// (for example webhook.Config), or nil when it is of another type.
func Settings[T any](s *Sink) *T {
	c, _ := s.Dest.Config.(*T)
	return c
}

// Map is the block as plain values under its YAML names: the form
// /v1/config shows and Diff compares.
func (d Destination) Map() map[string]any {
	if m, ok := d.Config.(map[string]any); ok {
		return m
	}
	if d.Config == nil {
		return nil
	}
	b, err := yaml.Marshal(d.Config)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var y map[string]any
	if err := yaml.Unmarshal(b, &y); err != nil {
		return map[string]any{"error": err.Error()}
	}
	j, err := json.Marshal(y)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var out map[string]any
	_ = json.Unmarshal(j, &out)
	return out
}

// sinkJSON is Sink without its methods, for the JSON encoding.
type sinkJSON Sink

// Map is the sink as plain values under its YAML names, the destination
// block under its kind: the JSON form the API and /v1/config show.
func (s Sink) Map() map[string]any {
	b, err := yaml.Marshal(sinkJSON(s))
	if err != nil {
		return map[string]any{"name": s.Name, "error": err.Error()}
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return map[string]any{"name": s.Name, "error": err.Error()}
	}
	if s.Dest.Kind != "" {
		m[s.Dest.Kind] = s.Dest.Map()
	}
	return m
}

// MarshalJSON writes the sink in its YAML field names, with the
// destination block under its kind (see Map).
func (s Sink) MarshalJSON() ([]byte, error) { return json.Marshal(s.Map()) }

// UnmarshalJSON reads what MarshalJSON writes; the destination block is
// kept as a map (a plan compares it as such).
func (s *Sink) UnmarshalJSON(data []byte) error {
	var plain sinkJSON
	// JSON is YAML: the yaml tags name the fields, and durations read as
	// they are written ("30s").
	if err := yaml.Unmarshal(data, &plain); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	known := map[string]bool{}
	t := reflect.TypeOf(sinkJSON{})
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	*s = Sink(plain)
	for k, raw := range all {
		if known[k] {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("sink %s: %w", k, err)
		}
		s.Dest = Destination{Kind: k, Config: m, blocks: 1}
	}
	return nil
}

// Check collects the problems of one destination block: a driver's
// Validate reports through it, with field paths relative to the block.
type Check struct {
	report  func(field, msg string)
	cfg     *Config
	fromAPI bool
}

// NewCheck returns a Check that hands each problem to report; cfg is the
// whole config the block is part of (nil when checked alone).
func NewCheck(report func(field, msg string), cfg *Config) *Check {
	return &Check{report: report, cfg: cfg}
}

// Config is the whole config the block is part of, for checks across
// sections (a NATS sink's subject against the events stream), or nil when
// the block is checked alone.
func (c *Check) Config() *Config { return c.cfg }

// FromAPI reports whether the block was written through the admin API
// (ParseSink) rather than by the operator in the config file: what runs
// per event on API input is held to tighter rules (templates that may not
// loop, say).
func (c *Check) FromAPI() bool { return c.fromAPI }

// At reports a problem on field (relative to the block; "" is the block).
func (c *Check) At(field, format string, args ...any) {
	c.report(field, fmt.Sprintf(format, args...))
}

// File reports a path that does not exist; an empty path is fine.
func (c *Check) File(field, path string) {
	if msg := fileProblem(path); msg != "" {
		c.At(field, "%s", msg)
	}
}

// URL parses the required URL field: when raw is empty (missing says what
// belongs there) or does not parse, it reports the problem and returns nil.
func (c *Check) URL(field, raw, missing string) *url.URL {
	if raw == "" {
		c.At(field, "missing: %s", missing)
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		c.At(field, "%v", err)
		return nil
	}
	return u
}

// TLS checks a tls block's files.
func (c *Check) TLS(field string, t TLS) {
	for _, f := range []struct{ name, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		c.File(joinPath(field, f.name), f.path)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		c.At(field, "cert_file and key_file go together")
	}
}

type destBlock struct {
	kind Kind
	node *yaml.Node
}

// decodeDests decodes each sink's destination block, which walk found,
// with its kind's defaults.
func (p *parser) decodeDests(cfg *Config) {
	for i := range cfg.Sinks {
		p.decodeDest(i, &cfg.Sinks[i])
	}
}

// decodeDest decodes the destination block of the sink at index i.
func (p *parser) decodeDest(i int, s *Sink) {
	{
		blocks := p.dests[fmt.Sprintf("sinks[%d]", i)]
		s.Dest = Destination{blocks: len(blocks)}
		for _, b := range blocks {
			v, err := b.kind.Decode(b.node)
			if err != nil {
				var te *yaml.TypeError
				if errors.As(err, &te) {
					for _, msg := range te.Errors {
						p.problems = append(p.problems, p.fromYAMLMessage(msg))
					}
				} else {
					p.problems = append(p.problems, p.fromYAMLMessage(err.Error()))
				}
			}
			if len(blocks) == 1 {
				s.Dest.Kind, s.Dest.Node, s.Dest.kind, s.Dest.Config = b.kind.Name(), b.node, b.kind, v
				continue
			}
			// One block too many: still judged, so every problem shows at once.
			p.strays = append(p.strays, stray{field: fmt.Sprintf("sinks[%d].%s", i, b.kind.Name()), kind: b.kind, cfg: v})
		}
	}
}

// stray is a destination block of a sink that has several.
type stray struct {
	field string
	kind  Kind
	cfg   any
}

func (p *parser) validateStrays(c *Config) {
	for _, s := range p.strays {
		chk := NewCheck(func(f, msg string) { p.at(joinPath(s.field, f), "%s", msg) }, c)
		chk.fromAPI = p.api != "" && strings.HasPrefix(s.field, p.api+".")
		s.kind.Validate(s.cfg, chk)
	}
}

func kindNames(k Kinds) []string {
	if k == nil {
		return nil
	}
	names := k.Names()
	sort.Strings(names)
	return names
}

func orList(names []string) string {
	switch len(names) {
	case 0:
		return "none registered"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// FieldDoc documents one config field for the README's reference table and
// the JSON Schema; the default itself comes from the code.
type FieldDoc struct {
	// Path is the field's YAML path: stream.max_age, sinks[].retry.jitter,
	// or, in a sink kind's spec, relative to its block (url, tls.ca_file).
	Path string
	// Also are sibling fields documented in the same row.
	Also []string
	// Required fields have no default.
	Required bool
	// Default, when set, is shown instead of the value the code defaults
	// to (for defaults that are computed, such as 2×timeout).
	Default string
	// Doc is the meaning, in Markdown.
	Doc string
}
