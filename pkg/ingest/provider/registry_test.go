package provider_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
)

func spec(name string, order int) provider.Spec {
	return provider.Spec{Name: name, Order: order,
		Verifier: func(provider.Source) (provider.Verifier, error) { return nil, nil },
		Identify: func(provider.Source, http.Header, []byte) (string, string) { return "", "" }}
}

// Lists follow Order, then names; a duplicate or incomplete spec panics at
// registration, where the programming error is found.
func TestRegistry(t *testing.T) {
	r := provider.NewRegistry()
	r.Add(spec("b", 1))
	r.Add(spec("a", 1))
	generic := spec("z", 0)
	generic.Options = true
	r.Add(generic)
	if got := r.Names(false); !slices.Equal(got, []string{"z", "a", "b"}) {
		t.Errorf("Names = %v, want [z a b]", got)
	}
	if got := r.Names(true); !slices.Equal(got, []string{"z"}) {
		t.Errorf("Names(options) = %v, want [z]", got)
	}
	if r.Get("a") == nil || r.Get("c") != nil {
		t.Error("Get")
	}
	for name, s := range map[string]provider.Spec{"duplicate": spec("a", 3), "no name": spec("", 0), "no verifier": {Name: "v", Identify: spec("v", 0).Identify}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			r.Add(s)
		}()
	}
	if got := provider.OneOf([]string{"a", "b", "c"}, "`"); got != "`a`, `b` or `c`" {
		t.Errorf("OneOf = %q", got)
	}
}
