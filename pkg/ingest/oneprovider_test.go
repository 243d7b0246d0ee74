package ingest_test

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
	prov "github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/schema"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// init registers the whole of a provider, as a new one would be written
// in a file of pkg/ingest/providers: a toy scheme whose "signature" is a
// shared token in a header (no HMAC, so nothing of the built-in providers
// is reused). Adding a provider is this registration; the config loader,
// the handler, the README's table and the JSON Schema learn of it from the
// registry.
func init() {
	prov.Register(prov.Spec{
		Name:  "toy",
		Order: 50,
		Doc:   prov.Doc{Signature: "`X-Toy-Token: <secret>`", Type: "body `kind`", ID: "`X-Toy-Id`", Kept: "`X-Toy-Region`"},
		Validate: func(s prov.Source, at func(field, format string, args ...any)) {
			for j, sec := range s.Secrets {
				if !strings.HasPrefix(sec, "toy_") {
					at(fmt.Sprintf("secrets[%d]", j), "a toy secret starts with toy_")
				}
			}
		},
		Verifier: func(s prov.Source) (prov.Verifier, error) {
			return func(h http.Header, _ []byte, _ time.Time) *prov.Refusal {
				got := h.Get("X-Toy-Token")
				if got == "" {
					return prov.Refuse(prov.ReasonMissing, "no X-Toy-Token header")
				}
				for _, sec := range s.Secrets {
					if subtle.ConstantTimeCompare([]byte(got), []byte(sec)) == 1 {
						return nil
					}
				}
				return prov.Refuse(prov.ReasonMismatch, "X-Toy-Token matches no secret")
			}, nil
		},
		Identify: func(_ prov.Source, h http.Header, body []byte) (string, string) {
			return h.Get("X-Toy-Id"), gjson.GetBytes(body, "kind").String()
		},
		Keep: func(prov.Source) []string { return []string{"X-Toy-Region"} },
	})
}

// A provider registered from one file (above) is validated by the config
// loader, verified, identified and published by the real handler on a real
// JetStream, and appears in the README's provider table and the schema.
func TestProviderIsOneFile(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	const src = "ingest: {listen: \"127.0.0.1:0\"}\nsources: [{name: parcels, verify: toy, secrets: [%s], type_prefix: toy%s}]\n"
	if _, err := config.Parse("toy.yaml", fmt.Appendf(nil, src, "plain", ""), noEnv); err == nil || !strings.Contains(err.Error(), "sources[0].secrets[0]: a toy secret starts with toy_") {
		t.Fatalf("the provider's own validation did not run: %v", err)
	}
	if _, err := config.Parse("toy.yaml", fmt.Appendf(nil, src, "toy_secret", ", header: X-S"), noEnv); err == nil || !strings.Contains(err.Error(), "for verify: hmac-sha256 only") {
		t.Fatalf("options on a provider that takes none: %v", err)
	}
	cfg, err := config.Parse("toy.yaml", fmt.Appendf(nil, src, "toy_old, toy_secret", ""), noEnv)
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	rg := newRig(t, nil, func(o *ingest.Options) {
		o.Sources = cfg.Sources
		o.Registerer = reg
	})
	path := ingest.PathSourcePrefix + "parcels"
	body := []byte(`{"kind":"parcel/shipped","weight":3}`)
	hdr := map[string]string{"X-Toy-Token": "toy_secret", "X-Toy-Id": "p-1", "X-Toy-Region": "eu"}
	for i, wantDup := range []bool{false, true} {
		resp, out := rg.post(t, path, "", body, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i+1, resp.StatusCode, out)
		}
		if acc := decode[ingest.Accepted](t, out); acc.Results[0].Duplicate != wantDup || acc.IDs[0] != "p-1" {
			t.Fatalf("delivery %d: %+v, want duplicate %v", i+1, acc, wantDup)
		}
	}
	for _, r := range []struct {
		reason string
		hdr    map[string]string
	}{
		{ingest.ReasonMismatch, map[string]string{"X-Toy-Token": "toy_wrong", "X-Toy-Id": "p-2"}},
		{ingest.ReasonMissing, map[string]string{"X-Toy-Id": "p-3"}},
	} {
		if resp, out := rg.post(t, path, "", body, r.hdr); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", r.reason, resp.StatusCode, out)
		}
		if got := counter(t, reg, "switchyard_ingest_signature_refused_total", map[string]string{"name": "parcels", "reason": r.reason}); got != 1 {
			t.Errorf("refused{reason=%s} = %v, want 1", r.reason, got)
		}
	}
	if resp, out := rg.post(t, path, "", body, map[string]string{"X-Toy-Token": "toy_secret"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no id: %d %s, want 400", resp.StatusCode, out)
	}

	got := rg.stored(t)
	if len(got) != 1 {
		t.Fatalf("stored %d events, want 1", len(got))
	}
	e := got[0]
	if subj := subjectOf(e.Tenant, e.Type); subj != "events.toy.parcel.shipped" || e.ID != "p-1" || e.Source != "parcels" || string(e.Data) != string(body) {
		t.Errorf("stored %s id %q source %q data %s", subj, e.ID, e.Source, e.Data)
	}
	if h := e.Headers["X-Toy-Region"]; len(h) != 1 || h[0] != "eu" {
		t.Errorf("kept header X-Toy-Region = %v, want eu", h)
	}
	if _, ok := e.Headers["X-Toy-Token"]; ok {
		t.Error("the token was kept on the event")
	}

	if !strings.Contains(schema.ProviderTable(prov.Default), "| `toy` | `X-Toy-Token: <secret>` | body `kind` | `X-Toy-Id` | `X-Toy-Region` |") {
		t.Error("the README's provider table has no row for the new provider")
	}
	js, err := schema.JSON(sink.Default)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"toy"`) {
		t.Error("the schema's verify does not list the new provider")
	}
}
