package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

const (
	ingestToken  = "ingest-token-for-acme-0123"
	stripeSecret = "whsec_gateway_stripe_test"
)

// An event posted over HTTP, and a Stripe webhook, reach a webhook sink
// and a Pub/Sub sink with the producer's id; the token and the source
// secret never show in /v1/config; /metrics counts the ingest.
func TestIngestFansOutToWebhookAndPubSub(t *testing.T) {
	t.Setenv("SY_INGEST_TOKEN", ingestToken)
	rc := testutil.NewReceiver(t)
	ps := newPstest(t, "projects/proj/topics/ingest")
	top := fmt.Sprintf(`
ingest:
  listen: "127.0.0.1:0"
  tokens: [{name: billing, token: "${SY_INGEST_TOKEN}", tenant: acme}]
sources:
  - {name: stripe, verify: stripe, secrets: [%q], tenant: acme}
`, stripeSecret)
	sinks := rc.SinkYAML("hook", `[">"]`, 4, "    tenant: acme\n") + fmt.Sprintf(`
  - name: topic
    events: [">"]
    tenant: acme
    batch: {max_events: 10, max_wait: 10ms}
    pubsub: {project: proj, topic: ingest, endpoint: %q}
`, ps.Addr)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: top, Sinks: sinks})
	if g.IngestAddr() == "" {
		t.Fatal("no ingest listener")
	}
	base := "http://" + g.IngestAddr()

	post := func(path string, body []byte, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	if code, out := post("/v1/events", []byte(`{"type":"order.completed","id":"ord-1","data":{"total":42}}`), map[string]string{"Authorization": "Bearer " + ingestToken}); code != http.StatusAccepted {
		t.Fatalf("publish: %d %s", code, out)
	}
	if code, out := post("/v1/events", []byte(`{"type":"order.completed","tenant":"beta"}`), map[string]string{"Authorization": "Bearer " + ingestToken}); code != http.StatusForbidden {
		t.Fatalf("other tenant: %d %s", code, out)
	}
	stripeBody := []byte(`{"id":"evt_gw_1","object":"event","type":"invoice.paid"}`)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripeBody, Secret: stripeSecret})
	for range 2 { // Stripe retries: stored once
		if code, out := post("/ingest/stripe", stripeBody, map[string]string{"Stripe-Signature": signed.Header, "Content-Type": "application/json"}); code != http.StatusOK {
			t.Fatalf("stripe: %d %s", code, out)
		}
	}

	testutil.WaitFor(t, 20*time.Second, "both events at both sinks", func() bool {
		return len(rc.Hits("hook")) >= 2 && len(ps.Messages()) >= 2
	})
	// A duplicate would arrive with the originals, within 200ms.
	testutil.Holds(t, 200*time.Millisecond, "two webhook deliveries", func() bool { return len(rc.Hits("hook")) == 2 })
	hits := rc.Hits("hook")
	if len(hits) != 2 {
		t.Fatalf("webhook: %d deliveries, want 2", len(hits))
	}
	byID := map[string]testutil.Hit{}
	for _, h := range hits {
		if !h.Valid {
			t.Errorf("delivery %s: signature invalid", h.ID)
		}
		byID[h.ID] = h
	}
	var env event.Envelope
	if err := json.Unmarshal(byID["ord-1"].Body, &env); err != nil || env.Type != "order.completed" || env.Tenant != "acme" || string(env.Data) != `{"total":42}` {
		t.Errorf("webhook ord-1: %+v (%v) from %s", env, err, byID["ord-1"].Body)
	}
	env = event.Envelope{}
	if err := json.Unmarshal(byID["evt_gw_1"].Body, &env); err != nil || env.Type != "stripe.invoice.paid" || string(env.Data) != string(stripeBody) {
		t.Errorf("webhook evt_gw_1: %+v (%v) from %s", env, err, byID["evt_gw_1"].Body)
	}
	msgs := ps.Messages()
	if len(msgs) != 2 {
		t.Fatalf("Pub/Sub: %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		switch m.Attributes["id"] {
		case "ord-1":
			if m.Attributes["type"] != "order.completed" || m.Attributes["tenant"] != "acme" || string(m.Data) != `{"total":42}` {
				t.Errorf("Pub/Sub ord-1: %v %s", m.Attributes, m.Data)
			}
		case "evt_gw_1":
			if m.Attributes["type"] != "stripe.invoice.paid" || string(m.Data) != string(stripeBody) {
				t.Errorf("Pub/Sub evt_gw_1: %v %s", m.Attributes, m.Data)
			}
		default:
			t.Errorf("Pub/Sub: unexpected id %q", m.Attributes["id"])
		}
	}

	// The running config shows fingerprints, never the secrets.
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.AdminAddr()+"/v1/config", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cfgBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(cfgBody), "billing") {
		t.Fatalf("/v1/config: %d %s", resp.StatusCode, cfgBody)
	}
	for _, secret := range []string{ingestToken, stripeSecret} {
		if strings.Contains(string(cfgBody), secret) {
			t.Errorf("/v1/config shows a secret: %s", cfgBody)
		}
	}

	// /metrics counts per token and source.
	req, _ = http.NewRequest(http.MethodGet, "http://"+g.AdminAddr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`switchyard_ingest_requests_total{kind="token",name="billing",outcome="accepted"} 1`,
		`switchyard_ingest_requests_total{kind="token",name="billing",outcome="forbidden"} 1`,
		`switchyard_ingest_events_total{kind="source",name="stripe",outcome="duplicate"} 1`,
		`switchyard_ingest_events_total{kind="source",name="stripe",outcome="accepted"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
