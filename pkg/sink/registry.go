package sink

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/internal/registry"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/redact"
)

// Env is what the gateway hands every driver it opens.
type Env struct {
	UserAgent string
	// Disable pauses the sink; a driver calls it when the destination asks
	// not to be sent anything more (webhooks: "webhook-delivery: disable").
	Disable func(reason string)
	// NATS is the gateway's own connection (nil in tests that have none):
	// a driver that publishes to NATS may share it.
	NATS *nats.Conn
	// Reserved are the subjects a driver never publishes on over NATS
	// (subject.Reserved of the running config: NATS's own, and those of
	// Switchyard's streams, buckets and notices). Nil: subject.Reserved(nil).
	Reserved []string
}

// Spec is everything Switchyard knows about one sink kind, in the driver's
// package: the config loader decodes, defaults, validates and redacts the
// kind's block with it, the JSON Schema and the README's defaults are
// generated from it, and the gateway opens drivers with it. C is the
// block's config type; its yaml tags name the fields.
type Spec[C any] struct {
	// Kind is the block's key in a sink, such as "webhook".
	Kind string
	// Summary is one line for the docs and the schema.
	Summary string
	// Fields documents the block's fields (paths relative to the block) for
	// the README's reference table and the schema; a test fails when a
	// field has no entry.
	Fields []config.FieldDoc
	// Defaults fills the block's unset fields after decoding. A zero
	// timeout defaults to config.DefaultTimeout without it.
	Defaults func(c *C)
	// Validate reports every problem of a decoded, defaulted block, each on
	// its field path relative to the block.
	Validate func(c *C, chk *config.Check)
	// Secrets are fields (by YAML name) whose values are secrets: a
	// string, every string of a list, or every value of a map. Redacted
	// configs and plans show a fingerprint; the schema marks them
	// writeOnly.
	Secrets []string
	// SecretURLs are URL fields whose password and query values are
	// secrets; the rest of the URL is shown.
	SecretURLs []string
	// SinkDefaults sets the common sink fields this kind defaults
	// otherwise (webhooks turn the breaker on). Nil: the common defaults.
	SinkDefaults func(s *config.Sink)
	// MaxBatch is the most events one Send takes; 1 when zero. The
	// gateway sizes a sink's batches and consumers by it (BatchSize).
	MaxBatch int
	// Timeout points at the block's timeout, how long one Send may take.
	// Nil: the block's "timeout" field, a config.Duration, if it has one.
	// Either way a zero timeout defaults to config.DefaultTimeout.
	Timeout func(c *C) *config.Duration
	// APIUses declares what of a block api.allow governs for sinks written
	// through the API beyond the fields named for it (*_file, endpoint,
	// role_arn, allow_private_networks are governed by their name): an
	// option in a URL's query that picks an endpoint, a credentials
	// profile or a role; a URL host in a private network. Nil: nothing
	// more. config.API.APIRestrictions judges them.
	APIUses func(c *C) []config.Use
	// SecretHolder, when set, is the kind's capability to hold signing
	// secrets the gateway generates and rotates (CapRotateSecret).
	SecretHolder *SecretHolder
	// EditTarget is the kind's capability to have its destination, the
	// block's url and headers, edited in the console (CapEditTarget).
	EditTarget bool
	// OrderedBy names the block's field (relative to the block) that makes
	// its driver keep events of a key in order (its driver is then a
	// sink.Ordered reporting Ordering true), "" when the block orders
	// nothing. Nil: the kind never orders. The loader reads it to refuse
	// shared delivery, which keeps no order per key, for such a block.
	OrderedBy func(c *C) string
	// Open builds a driver for a sink whose block is c. A driver that
	// opens connections of its own dials them through netguard when
	// s.Confined (an API sink without api.allow: [private_networks]).
	Open func(ctx context.Context, c *C, s config.Sink, env Env) (Driver, error)
}

// Registry is a set of sink kinds. The gateway and the config loader use
// Default unless given their own (tests build small ones).
type Registry struct {
	kinds *registry.Set[*kind]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: &registry.Set[*kind]{}} }

// Default is the registry the drivers' init functions register on, and the
// config loader's DefaultKinds.
var Default = NewRegistry()

func init() { config.DefaultKinds = Default }

// Register adds a kind to the Default registry. Drivers call it from init;
// binaries import the drivers they want (pkg/sink/all imports every one).
func Register[C any](spec Spec[C]) { Add(Default, spec) }

// Add adds a kind to r. It panics on a duplicate or incomplete spec: both
// are programming errors found at start.
func Add[C any](r *Registry, spec Spec[C]) {
	if spec.Kind == "" || spec.Open == nil {
		panic("sink: spec needs a Kind and Open")
	}
	if h := spec.SecretHolder; h != nil && (h.Generate == nil || !fieldByYAML(reflect.ValueOf(new(C)).Elem(), h.Field).IsValid()) {
		panic("sink: spec " + spec.Kind + ": SecretHolder needs Generate and a Field of the block")
	}
	if reflect.TypeFor[C]().Kind() != reflect.Struct {
		panic("sink: spec " + spec.Kind + ": config type must be a struct")
	}
	if fieldByYAML(reflect.ValueOf(config.Sink{}), spec.Kind).IsValid() {
		panic("sink: kind " + spec.Kind + " has the name of a common sink field")
	}
	if !r.kinds.Add(spec.Kind, newKind(spec)) {
		panic("sink: kind registered twice: " + spec.Kind)
	}
}

// Set adds a kind to r or replaces the one of the same name: a program
// that needs a kind opened otherwise (the demo's EventBridge fake with
// static credentials) sets it on a Clone of Default.
func Set[C any](r *Registry, spec Spec[C]) {
	r.kinds.Delete(spec.Kind)
	Add(r, spec)
}

// Clone returns a registry with r's kinds, to change without touching r.
func (r *Registry) Clone() *Registry {
	return &Registry{kinds: r.kinds.Clone()}
}

// Kind implements config.Kinds.
func (r *Registry) Kind(name string) config.Kind {
	if k := r.get(name); k != nil {
		return k
	}
	return nil
}

func (r *Registry) get(name string) *kind {
	k, _ := r.kinds.Get(name)
	return k
}

// Names implements config.Kinds: the registered kinds, sorted.
func (r *Registry) Names() []string { return r.kinds.Names() }

// Info describes a registered kind, for generated docs and schemas.
type Info struct {
	Kind       string
	Summary    string
	Fields     []config.FieldDoc
	ConfigType reflect.Type
	// Defaults is a block with every default applied to an empty one.
	Defaults   any
	Secrets    []string
	SecretURLs []string
	MaxBatch   int
	// SinkDefaults is a sink with only this kind's common defaults set.
	SinkDefaults config.Sink
}

// Infos describes every registered kind, sorted by kind.
func (r *Registry) Infos() []Info {
	var out []Info
	for _, n := range r.Names() {
		k := r.get(n)
		def, _ := k.Decode(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
		var s config.Sink
		k.SinkDefaults(&s)
		out = append(out, Info{Kind: n, Summary: k.summary, Fields: k.fields, ConfigType: k.typ, Defaults: def,
			Secrets: k.secrets, SecretURLs: k.secretURLs, MaxBatch: k.maxBatch, SinkDefaults: s})
	}
	return out
}

// Open builds the driver for a configured sink.
func (r *Registry) Open(ctx context.Context, s config.Sink, env Env) (Driver, error) {
	k := r.get(s.Kind())
	if k == nil {
		return nil, fmt.Errorf("sink %q: no driver for kind %q (registered: %v)", s.Name, s.Kind(), r.Names())
	}
	return k.open(ctx, s, env)
}

// BatchSize is the batch a sink uses: what its config asks for
// (batch.max_events), capped at its kind's MaxBatch; the kind's MaxBatch
// when the config says nothing; 1 for a kind r does not have.
func (r *Registry) BatchSize(s config.Sink) int {
	limit := 1
	if k := r.get(s.Kind()); k != nil {
		limit = k.maxBatch
	}
	if s.Batch.MaxEvents > 0 && s.Batch.MaxEvents < limit {
		return s.Batch.MaxEvents
	}
	return limit
}

// Kinds lists the kinds of the Default registry.
func Kinds() []string { return Default.Names() }

// Open builds a driver with the Default registry.
func Open(ctx context.Context, s config.Sink, env Env) (Driver, error) {
	return Default.Open(ctx, s, env)
}

// kind is a Spec with its type erased: config.Kind for the loader.
type kind struct {
	name, summary       string
	fields              []config.FieldDoc
	typ                 reflect.Type
	secrets, secretURLs []string
	maxBatch            int
	decode              func(*yaml.Node) (any, error)
	validate            func(any, *config.Check)
	timeout             func(any) time.Duration
	sinkDefaults        func(*config.Sink)
	apiUses             func(any) []config.Use
	orderedBy           func(any) string
	open                func(context.Context, config.Sink, Env) (Driver, error)
	secretHolder        *SecretHolder
	editTarget          bool
}

var _ config.Kind = (*kind)(nil)

func newKind[C any](spec Spec[C]) *kind {
	timeoutOf := spec.Timeout
	if timeoutOf == nil {
		timeoutOf = func(c *C) *config.Duration {
			f := fieldByYAML(reflect.ValueOf(c).Elem(), "timeout")
			if !f.IsValid() {
				return nil
			}
			d, _ := f.Addr().Interface().(*config.Duration)
			return d
		}
	}
	k := &kind{name: spec.Kind, summary: spec.Summary, fields: spec.Fields, typ: reflect.TypeFor[C](),
		secrets: spec.Secrets, secretURLs: spec.SecretURLs, maxBatch: max(spec.MaxBatch, 1),
		secretHolder: spec.SecretHolder, editTarget: spec.EditTarget}
	k.decode = func(n *yaml.Node) (any, error) {
		c := new(C)
		err := n.Decode(c)
		if spec.Defaults != nil {
			spec.Defaults(c)
		}
		if t := timeoutOf(c); t != nil && t.D == 0 {
			t.D = config.DefaultTimeout
		}
		return c, err
	}
	k.validate = func(cfg any, chk *config.Check) {
		if c, ok := cfg.(*C); ok && spec.Validate != nil {
			spec.Validate(c, chk)
		}
	}
	k.timeout = func(cfg any) time.Duration {
		if c, ok := cfg.(*C); ok {
			if t := timeoutOf(c); t != nil && t.D > 0 {
				return t.D
			}
		}
		return config.DefaultTimeout
	}
	k.sinkDefaults = func(s *config.Sink) {
		if spec.SinkDefaults != nil {
			spec.SinkDefaults(s)
		}
	}
	k.apiUses = func(cfg any) []config.Use {
		if c, ok := cfg.(*C); ok && spec.APIUses != nil {
			return spec.APIUses(c)
		}
		return nil
	}
	k.orderedBy = func(cfg any) string {
		if c, ok := cfg.(*C); ok && spec.OrderedBy != nil {
			return spec.OrderedBy(c)
		}
		return ""
	}
	k.open = func(ctx context.Context, s config.Sink, env Env) (Driver, error) {
		c, ok := s.Dest.Config.(*C)
		if !ok {
			return nil, fmt.Errorf("sink %q: %s block not decoded (got %T)", s.Name, spec.Kind, s.Dest.Config)
		}
		return spec.Open(ctx, c, s, env)
	}
	return k
}

func (k *kind) Name() string                        { return k.name }
func (k *kind) ConfigType() reflect.Type            { return k.typ }
func (k *kind) Decode(n *yaml.Node) (any, error)    { return k.decode(n) }
func (k *kind) SinkDefaults(s *config.Sink)         { k.sinkDefaults(s) }
func (k *kind) Validate(cfg any, chk *config.Check) { k.validate(cfg, chk) }
func (k *kind) Timeout(cfg any) time.Duration       { return k.timeout(cfg) }

// APIUses is what of the block api.allow governs, as the spec declares it
// (config.API.APIRestrictions asks).
func (k *kind) APIUses(cfg any) []config.Use { return k.apiUses(cfg) }

// OrderedBy is the block's field that turns on ordering per key, as the
// spec declares it; "" when none (the config loader asks).
func (k *kind) OrderedBy(cfg any) string { return k.orderedBy(cfg) }

// Redact copies the block with its secret fields fingerprinted.
func (k *kind) Redact(cfg any, fingerprint func(string) string) any {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return cfg
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	for _, name := range k.secrets {
		if f := fieldByYAML(cp.Elem(), name); f.IsValid() {
			f.Set(maskValue(f, fingerprint))
		}
	}
	urlMask := func(s string) string { return redact.URLWith(s, fingerprint) }
	for _, name := range k.secretURLs {
		if f := fieldByYAML(cp.Elem(), name); f.IsValid() {
			f.Set(maskValue(f, urlMask))
		}
	}
	return cp.Interface()
}

// fieldByYAML finds a struct field by its yaml name.
func fieldByYAML(v reflect.Value, name string) reflect.Value {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); n == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// maskValue returns a masked copy of a string, []string or map[string]string.
func maskValue(v reflect.Value, mask func(string) string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		return reflect.ValueOf(mask(v.String())).Convert(v.Type())
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(maskValue(v.Index(i), mask))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), maskValue(it.Value(), mask))
		}
		return out
	}
	panic("sink: secret field of type " + v.Type().String() + ": only strings, lists and maps of strings")
}
