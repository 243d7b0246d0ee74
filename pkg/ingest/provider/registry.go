package provider

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// Registry is a set of providers. The config loader, the ingest handler and
// the schema generator use Default.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

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
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Name]; dup {
		panic("provider: registered twice: " + s.Name)
	}
	r.specs[s.Name] = &s
}

// Get returns the provider called name, or nil.
func (r *Registry) Get(name string) *Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.specs[name]
}

// Specs returns every provider, by Order then name.
func (r *Registry) Specs() []Spec {
	r.mu.RLock()
	out := make([]Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, *s)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Spec) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.Name, b.Name))
	})
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
