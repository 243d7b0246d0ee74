package ingest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

const swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func hmacSHA256(key string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return m.Sum(nil)
}

// provider is one source kind: its config and how the provider signs.
type provider struct {
	name string
	src  config.Source
	body []byte
	// sign returns the headers the provider sends for body at time at,
	// made by the provider's own library where one exists.
	sign       func(t *testing.T, body []byte, at time.Time) map[string]string
	timestamps bool // signed timestamps, so a stale one can be tried
	subject    string
	id         string
	keep       map[string]string // headers kept on the event
}

func providers() []provider {
	return []provider{{
		name: "stripe",
		src:  config.Source{Name: "stripe", Verify: config.VerifyStripe, Secrets: []string{"whsec_old_rotated_out", "whsec_stripe_test"}, TypePrefix: "stripe"},
		body: []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"customer.subscription.created","data":{"object":{"id":"sub_1"}}}`),
		sign: func(t *testing.T, body []byte, at time.Time) map[string]string {
			p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_stripe_test", Timestamp: at})
			return map[string]string{"Stripe-Signature": p.Header}
		},
		timestamps: true,
		subject:    "events.stripe.customer.subscription.created",
		id:         "evt_1NG8Du2eZvKYlo2CUI79vXWy",
	}, {
		name: "github",
		src:  config.Source{Name: "gh", Verify: config.VerifyGitHub, Secrets: []string{"It's a Secret to Everybody"}, TypePrefix: "github"},
		body: []byte(`{"action":"opened","issue":{"number":1347}}`),
		sign: func(t *testing.T, body []byte, _ time.Time) map[string]string {
			sig := "sha256=" + hex.EncodeToString(hmacSHA256("It's a Secret to Everybody", body))
			// go-github's own validator confirms the signature first.
			if err := github.ValidateSignature(sig, body, []byte("It's a Secret to Everybody")); err != nil {
				t.Fatalf("go-github refuses the test signature: %v", err)
			}
			return map[string]string{"X-Hub-Signature-256": sig, "X-GitHub-Event": "issues", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "X-GitHub-Hook-ID": "292430182"}
		},
		subject: "events.github.issues.opened",
		id:      "72d3162e-cc78-11e3-81ab-4c9367dc0958",
		keep:    map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Hook-ID": "292430182"},
	}, {
		name: "shopify",
		src:  config.Source{Name: "shop", Verify: config.VerifyShopify, Secrets: []string{"hush"}, Tenant: "acme", TypePrefix: "shopify"},
		body: []byte(`{"id":820982911946154508,"email":"jon@doe.ca"}`),
		sign: func(t *testing.T, body []byte, _ time.Time) map[string]string {
			return map[string]string{"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(hmacSHA256("hush", body)),
				"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "X-Shopify-Shop-Domain": "example.myshopify.com"}
		},
		subject: "tenants.acme.shopify.orders.create",
		id:      "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
		keep:    map[string]string{"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "example.myshopify.com"},
	}, {
		name: "standard-webhooks",
		src:  config.Source{Name: "sw", Verify: config.VerifyStandardWebhooks, Secrets: []string{swSecret}, TypePrefix: "partner"},
		body: []byte(`{"type":"invoice.paid","timestamp":"2026-11-30T10:00:00Z","data":{"invoice":"in_1"}}`),
		sign: func(t *testing.T, body []byte, at time.Time) map[string]string {
			wh, err := standardwebhooks.NewWebhook(swSecret) // the reference library
			if err != nil {
				t.Fatal(err)
			}
			sig, err := wh.Sign("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", at, body)
			if err != nil {
				t.Fatal(err)
			}
			return map[string]string{"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "webhook-timestamp": strconv.FormatInt(at.Unix(), 10), "webhook-signature": sig}
		},
		timestamps: true,
		subject:    "events.partner.invoice.paid",
		id:         "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		keep:       map[string]string{"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
	}, {
		name: "hmac-sha256",
		src: config.Source{Name: "generic", Verify: config.VerifyHMAC, Secrets: []string{"generic-secret"}, TypePrefix: "vendor",
			Header: "X-Signature", Prefix: "sha256=", Encoding: "hex", IDHeader: "X-Event-Id"},
		body: []byte(`{"type":"thing.happened","n":1}`),
		sign: func(t *testing.T, body []byte, _ time.Time) map[string]string {
			return map[string]string{"X-Signature": "sha256=" + hex.EncodeToString(hmacSHA256("generic-secret", body)), "X-Event-Id": "v-42"}
		},
		subject: "events.vendor.thing.happened",
		id:      "v-42",
		keep:    map[string]string{"X-Event-Id": "v-42"},
	}}
}

// Each provider: a signed delivery is stored once even when posted twice
// (the provider's retry), byte for byte, under the provider's id and type;
// a tampered body, a missing signature, a wrong secret and a stale
// timestamp are 401, counted by reason, and publish nothing.
func TestProviderWebhooks(t *testing.T) {
	for _, p := range providers() {
		t.Run(p.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			rg := newRig(t, nil, func(o *ingest.Options) {
				o.Sources = []config.Source{p.src}
				o.Registerer = reg
			})
			path := ingest.PathSourcePrefix + p.src.Name
			now := time.Now()
			hdr := p.sign(t, p.body, now)
			for i, wantDup := range []bool{false, true} {
				resp, out := rg.post(t, path, "", p.body, hdr)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("delivery %d: %d %s", i+1, resp.StatusCode, out)
				}
				if acc := decode[ingest.Accepted](t, out); acc.Results[0].Duplicate != wantDup || acc.IDs[0] != p.id {
					t.Fatalf("delivery %d: %+v, want duplicate %v", i+1, acc, wantDup)
				}
			}

			tampered := append([]byte(nil), p.body...)
			tampered[len(tampered)-2] ^= 1
			refusals := []struct {
				name, reason string
				body         []byte
				hdr          map[string]string
			}{
				{"tampered body", ingest.ReasonMismatch, tampered, hdr},
				{"no signature", ingest.ReasonMissing, p.body, without(hdr, "Stripe-Signature", "X-Hub-Signature-256", "X-Shopify-Hmac-Sha256", "webhook-signature", "X-Signature")},
				{"other body's signature", ingest.ReasonMismatch, p.body, p.sign(t, []byte(`{"other":true}`), now)},
			}
			if p.timestamps {
				refusals = append(refusals,
					struct {
						name, reason string
						body         []byte
						hdr          map[string]string
					}{"stale timestamp", ingest.ReasonTimestamp, p.body, p.sign(t, p.body, now.Add(-6*time.Minute))},
					struct {
						name, reason string
						body         []byte
						hdr          map[string]string
					}{"future timestamp", ingest.ReasonTimestamp, p.body, p.sign(t, p.body, now.Add(6*time.Minute))})
			}
			for _, r := range refusals {
				resp, out := rg.post(t, path, "", r.body, r.hdr)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: %d %s, want 401", r.name, resp.StatusCode, out)
				}
				if strings.Contains(string(out), r.reason) || !strings.Contains(string(out), "signature verification failed") {
					t.Errorf("%s: the answer %s says more than that verification failed", r.name, out)
				}
			}
			for _, reason := range []string{ingest.ReasonMismatch, ingest.ReasonMissing, ingest.ReasonTimestamp} {
				want := 0
				for _, r := range refusals {
					if r.reason == reason {
						want++
					}
				}
				if got := counter(t, reg, "switchyard_ingest_signature_refused_total", map[string]string{"name": p.src.Name, "reason": reason}); got != float64(want) {
					t.Errorf("refused{reason=%s} = %v, want %d", reason, got, want)
				}
			}

			got := rg.stored(t)
			if len(got) != 1 {
				t.Fatalf("stored %d events, want 1", len(got))
			}
			e := got[0]
			if subj := subjectOf(e.Tenant, e.Type); subj != p.subject || e.ID != p.id || string(e.Data) != string(p.body) || e.Source != p.src.Name {
				t.Errorf("stored %s id %q source %q data %s; want %s id %q", subj, e.ID, e.Source, e.Data, p.subject, p.id)
			}
			for k, v := range p.keep {
				if got := e.Headers[k]; len(got) != 1 || got[0] != v {
					t.Errorf("header %s = %v, want %q", k, got, v)
				}
			}
			for _, k := range []string{"Stripe-Signature", "X-Hub-Signature-256", "X-Shopify-Hmac-Sha256", "webhook-signature", "X-Signature"} {
				if _, ok := e.Headers[k]; ok {
					t.Errorf("the signature header %s was kept on the event", k)
				}
			}
			if got := counter(t, reg, "switchyard_ingest_events_total", map[string]string{"name": p.src.Name, "outcome": ingest.OutcomeDuplicate}); got != 1 {
				t.Errorf("events{outcome=duplicate} = %v, want 1", got)
			}
		})
	}
}

// An unknown source is 404, and a GET is 405.
func TestSourceRouting(t *testing.T) {
	rg := newRig(t, nil, func(o *ingest.Options) { o.Sources = []config.Source{providers()[0].src} })
	if resp, _ := rg.post(t, ingest.PathSourcePrefix+"nope", "", []byte(`{}`), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown source: %d", resp.StatusCode)
	}
	resp, err := http.Get(rg.srv.URL + ingest.PathSourcePrefix + "stripe")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func subjectOf(tenant, typ string) string {
	if tenant == "" {
		return "events." + typ
	}
	return "tenants." + tenant + "." + typ
}

func without(h map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// counter sums a counter's series whose labels include want.
func counter(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
