package ingest_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// Every route the ingest listener serves, with every kind of caller,
// judged by its route's rule: the publish API takes an ingest token (401
// without one or with a wrong one, whatever else the request carries), and
// a token bound to a tenant publishes only for its tenant (403 for
// another); a source takes only its provider's signature over the body
// (401 without it, for another body, with another source's signature or
// with an ingest token), and publishes under its own tenant (or none)
// whatever the body says. The routes come from the handler's own table,
// with a source of every verifier, so a route without a rule fails naming
// it; a refused request stores nothing.
func TestEveryIngestRouteGivesEachCallerItsPower(t *testing.T) {
	provs := providers()
	bySource := map[string]provider{}
	verifiers := map[string]bool{}
	for _, p := range provs {
		bySource[ingest.PathSourcePrefix+p.src.Name] = p
		verifiers[p.src.Verify] = true
	}
	for _, v := range []string{config.VerifyStripe, config.VerifyGitHub, config.VerifyShopify, config.VerifyStandardWebhooks, config.VerifyHMAC} {
		if !verifiers[v] {
			t.Fatalf("no source verifies %s", v)
		}
	}
	rg := newRig(t, nil, func(o *ingest.Options) {
		for _, p := range provs {
			o.Sources = append(o.Sources, p.src)
		}
	})
	routes := rg.h.Routes()
	if len(routes) != 1+len(provs) {
		t.Fatalf("routes %v, want the publish API and %d sources", routes, len(provs))
	}
	// Every source's signature headers for a body, all at once: what a
	// caller holding every other provider's secret could send.
	now := time.Now()
	signedByAll := func(body []byte, except string) map[string]string {
		hdr := map[string]string{}
		for _, p := range provs {
			if p.src.Name != except {
				maps.Copy(hdr, p.sign(t, body, now))
			}
		}
		return hdr
	}
	stored := len(rg.stored(t))
	// expect sends one request and judges its answer; a refusal must
	// store nothing, an acceptance exactly one event under subj.
	expect := func(t *testing.T, name, path, token string, body []byte, hdr map[string]string, want int, subj string) {
		t.Helper()
		resp, out := rg.post(t, path, token, body, hdr)
		if resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", name, resp.StatusCode, out, want)
		}
		if want == http.StatusUnauthorized && path == ingest.PathEvents && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", name)
		}
		got := rg.stored(t)
		last := ""
		if len(got) > 0 {
			last = subjectOf(got[len(got)-1].Tenant, got[len(got)-1].Type)
		}
		switch {
		case resp.StatusCode >= 300 && len(got) != stored:
			t.Errorf("%s: refused with %d, yet %d events stored", name, resp.StatusCode, len(got)-stored)
		case resp.StatusCode < 300 && (len(got) != stored+1 || last != subj):
			t.Errorf("%s: stored %d events (last %s), want 1 under %s", name, len(got)-stored, last, subj)
		}
		stored = len(got)
	}

	for _, route := range routes {
		t.Run(route, func(t *testing.T) {
			method, path, _ := strings.Cut(route, " ")
			if method != http.MethodPost {
				t.Fatalf("route %q: only POST has a rule", route)
			}
			if path == ingest.PathEvents {
				one := []byte(`{"type":"order.created","data":{"n":1}}`)
				expect(t, "no credentials", path, "", one, nil, 401, "")
				expect(t, "a wrong bearer token", path, "tok-wrong-0123456789", one, nil, 401, "")
				expect(t, "an ingest token in another scheme", path, "", one, map[string]string{"Authorization": "Basic " + tokenAny}, 401, "")
				expect(t, "an ingest token as a query parameter", path+"?token="+tokenAny, "", one, nil, 401, "")
				expect(t, "every source's signature, no token", path, "", one, signedByAll(one, ""), 401, "")
				for _, body := range []string{
					`{"type":"order.created","tenant":"beta"}`,
					`[{"type":"order.created","tenant":"acme"},{"type":"order.created","tenant":"beta"}]`,
					`{"type":"order.created","tenant":"ACME"}`,
				} {
					expect(t, "acme's token for another tenant: "+body, path, tokenAcme, []byte(body), nil, 403, "")
				}
				expect(t, "acme's token, no tenant named", path, tokenAcme, one, nil, 202, "tenants.acme.order.created")
				expect(t, "acme's token for acme", path, tokenAcme, []byte(`{"type":"order.created","tenant":"acme"}`), nil, 202, "tenants.acme.order.created")
				expect(t, "acme's token, a type naming another tenant", path, tokenAcme, []byte(`{"type":"tenants.beta.order"}`), nil, 202, "tenants.acme.tenants.beta.order")
				expect(t, "an unbound token for beta", path, tokenAny, []byte(`{"type":"order.created","tenant":"beta"}`), nil, 202, "tenants.beta.order.created")
				return
			}
			p, ok := bySource[path]
			if !ok {
				t.Fatalf("route %q has no rule: neither the publish API nor a source of this test", route)
			}
			signed := p.sign(t, p.body, now)
			other := []byte(strings.Replace(string(p.body), "{", `{"tenant":"beta",`, 1))
			// The signature headers are those that change with the body.
			var sigHeaders []string
			for k, v := range p.sign(t, other, now) {
				if signed[k] != v {
					sigHeaders = append(sigHeaders, k)
				}
			}
			if len(sigHeaders) == 0 {
				t.Fatalf("%s: no header carries the signature: %v", p.name, signed)
			}
			unsigned := without(signed, sigHeaders...)
			othersSigned := signedByAll(p.body, p.src.Name)
			maps.Copy(othersSigned, unsigned)
			expect(t, "no signature", path, "", p.body, unsigned, 401, "")
			expect(t, "no signature, an unbound ingest token", path, tokenAny, p.body, unsigned, 401, "")
			expect(t, "another body's signature", path, "", other, signed, 401, "")
			expect(t, "every other source's signature", path, "", p.body, othersSigned, 401, "")
			// Accepted: signed by its provider, under its own tenant (or
			// none) even though the body names another.
			expect(t, "its provider's signature, a body naming another tenant", path, "", other, p.sign(t, other, now), 200, p.subject)
		})
	}
	// Paths outside the table answer 404 to an unbound token, publishing
	// nothing: the admin API and the profiler are not on this listener.
	t.Run("outside the table", func(t *testing.T) {
		for _, path := range []string{"/", "/v1/", "/v1/events/x", ingest.PathSourcePrefix, ingest.PathSourcePrefix + "nope", ingest.PathSourcePrefix + "stripe/x", "/v1/sinks", "/metrics", "/debug/pprof/"} {
			expect(t, path, path, tokenAny, []byte(`{"type":"order.created"}`), nil, 404, "")
		}
	})
}
