package sink_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

// A kind that declares a SecretHolder and an EditTarget is found by them
// in a sink definition decoded from JSON, under whatever name it has: the
// gateway and the console never spell a kind's name.
func TestCapabilitiesFollowTheSpec(t *testing.T) {
	r := sink.NewRegistry()
	sink.Add(r, sink.Spec[probe]{
		Kind:         "keeper",
		SecretHolder: &sink.SecretHolder{Field: "token", Generate: func() string { return "fresh" }},
		EditTarget:   true,
		Open: func(context.Context, *probe, config.Sink, sink.Env) (sink.Driver, error) {
			return nopDriver{}, nil
		},
	})
	sink.Add(r, sink.Spec[probe]{Kind: "plain", Open: func(context.Context, *probe, config.Sink, sink.Env) (sink.Driver, error) {
		return nopDriver{}, nil
	}})
	if got := r.Capabilities("keeper"); !slices.Equal(got, []string{sink.CapEditTarget, sink.CapRotateSecret}) {
		t.Errorf("keeper capabilities = %v", got)
	}
	if got := r.Capabilities("plain"); got != nil {
		t.Errorf("plain capabilities = %v, want none", got)
	}
	if got := r.Capabilities("nosuch"); got != nil {
		t.Errorf("unknown kind's capabilities = %v, want none", got)
	}

	var doc map[string]any
	if err := json.Unmarshal([]byte(`{"name":"a","keeper":{"target":"x","token":["old",7]}}`), &doc); err != nil {
		t.Fatal(err)
	}
	if k := r.KindOf(doc); k != "keeper" {
		t.Errorf("KindOf = %q", k)
	}
	held := r.Secrets(doc)
	if held == nil || !slices.Equal(held.List, []string{"old"}) {
		t.Fatalf("Secrets = %+v, want the list [old]", held)
	}
	held.Set([]string{held.Generate(), "old"})
	b, _ := json.Marshal(doc)
	if want := `{"keeper":{"target":"x","token":["fresh","old"]},"name":"a"}`; string(b) != want {
		t.Errorf("after Set: %s, want %s", b, want)
	}
	if r.Secrets(map[string]any{"plain": map[string]any{}}) != nil || r.Secrets(map[string]any{"name": "a"}) != nil {
		t.Error("a kind without SecretHolder, or no block, holds no secrets")
	}
}

// The webhook is the one kind that holds secrets and has an edit target
// today; the other drivers have neither.
func TestDefaultKindsCapabilities(t *testing.T) {
	for _, k := range sink.Kinds() {
		got := sink.Default.Capabilities(k)
		if k == "webhook" {
			if !slices.Equal(got, []string{sink.CapEditTarget, sink.CapRotateSecret}) {
				t.Errorf("webhook capabilities = %v", got)
			}
			continue
		}
		if got != nil {
			t.Errorf("%s capabilities = %v, want none", k, got)
		}
	}
	held := sink.Default.Secrets(map[string]any{"webhook": map[string]any{"url": "https://x"}})
	if held == nil || len(held.List) != 0 {
		t.Fatalf("webhook Secrets = %+v", held)
	}
	if s := held.Generate(); len(s) != len("whsec_")+32 || s[:6] != "whsec_" {
		t.Errorf("generated %q, want whsec_ and 24 bytes in base64", s)
	}
}

// A SecretHolder naming no field of the block is a programming error.
func TestSecretHolderNeedsAField(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a SecretHolder on a missing field")
		}
	}()
	sink.Add(sink.NewRegistry(), sink.Spec[probe]{Kind: "k", SecretHolder: &sink.SecretHolder{Field: "nope", Generate: func() string { return "" }},
		Open: func(context.Context, *probe, config.Sink, sink.Env) (sink.Driver, error) { return nopDriver{}, nil }})
}
