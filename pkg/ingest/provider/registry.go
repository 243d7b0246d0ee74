package provider

import (
	"cmp"
	"slices"
	"strings"

	"github.com/switchyard-dev/switchyard/internal/registry"
)

// Registry is a set of providers. The config loader, the ingest handler and
// the schema generator use Default.
type Registry struct {
	specs registry.Set[*Spec]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Default is the registry providers' init functions register on; binaries
// get the built-in ones by importing pkg/ingest/providers (pkg/ingest does).
var Default = NewRegistry()

// Register adds a provider to Default. Providers call it from init.
func Register(s Spec) { Default.Add(s) }

// Add adds a provider to r. It panics on a duplicate or incomplete spec:
// both are programming errors found at start.
func (r *Registry) Add(s Spec) {
	if s.Name == "" || s.Verifier == nil || s.Identify == nil {
		panic("provider: spec needs a Name, a Verifier and Identify")
	}
	if !r.specs.Add(s.Name, &s) {
		panic("provider: registered twice: " + s.Name)
	}
}

// Get returns the provider called name, or nil.
func (r *Registry) Get(name string) *Spec {
	s, _ := r.specs.Get(name)
	return s
}

// Specs returns every provider, by Order then name.
func (r *Registry) Specs() []Spec {
	specs := r.specs.Values()
	out := make([]Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, *s)
	}
	slices.SortStableFunc(out, func(a, b Spec) int { return cmp.Compare(a.Order, b.Order) })
	return out
}

// Names lists the providers' names in Specs' order; with options set, only
// those of providers that take options.
func (r *Registry) Names(options bool) []string {
	var out []string
	for _, s := range r.Specs() {
		if !options || s.Options {
			out = append(out, s.Name)
		}
	}
	return out
}

// OneOf writes names as prose, each wrapped in quote: "a, b or c".
func OneOf(names []string, quote string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote + n + quote
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
