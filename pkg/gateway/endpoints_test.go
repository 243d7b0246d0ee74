package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// apiTop lets API sinks reach the test's loopback TLS receivers.
const apiTop = "api: {allow: [tls_files, private_networks]}\n"

// apiJSON calls the admin API with a JSON body and decodes the answer.
func apiJSON(t *testing.T, g *gateway.Gateway, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://"+g.AdminAddr()+path, rd)
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Switchyard-Actor", "test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// signedHit is one request with its signature header.
type signedHit struct {
	path, id, sig string
	body          []byte
}

// sigReceiver records every request's path, id, signature and body.
type sigReceiver struct {
	*testutil.Receiver
	mu   sync.Mutex
	all  []signedHit
	code int
}

func newSigReceiver(t *testing.T) *sigReceiver {
	sr := &sigReceiver{Receiver: testutil.NewReceiver(t), code: 204}
	sr.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sr.mu.Lock()
		sr.all = append(sr.all, signedHit{path: strings.TrimPrefix(r.URL.Path, "/"), id: r.Header.Get("webhook-id"), sig: r.Header.Get("webhook-signature"), body: body})
		code := sr.code
		sr.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "<b>ok</b> from the receiver")
	})
	return sr
}

// requests is every request, in arrival order.
func (sr *sigReceiver) requests() []signedHit {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return append([]signedHit(nil), sr.all...)
}

func (sr *sigReceiver) hitsOf(path string) []signedHit {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	var out []signedHit
	for _, h := range sr.all {
		if h.path == path {
			out = append(out, h)
		}
	}
	return out
}

// apiSinkJSON is an API webhook sink posting to /<name> on sr, with no
// secret (the gateway generates one).
func (sr *sigReceiver) apiSinkJSON(name, tenant string, events ...string) string {
	ev, _ := json.Marshal(events)
	t := ""
	if tenant != "" {
		t = fmt.Sprintf(`"tenant":%q,`, tenant)
	}
	return fmt.Sprintf(`{"name":%q,%s"events":%s,"concurrency":4,"description":"for %s","metadata":{"team":"t1"},
	  "webhook":{"url":"%s/%s","timeout":"2s","allow_private_networks":true,"tls":{"ca_file":%q}}}`,
		name, t, ev, name, sr.Server.URL, pathOr(name, "gen"), sr.CAFile)
}

func pathOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

func publishTo(t *testing.T, g *gateway.Gateway, subj, id string, data []byte) {
	t.Helper()
	m := nats.NewMsg(subj)
	m.Data = data
	if id != "" {
		m.Header.Set(event.HeaderMsgID, id)
	}
	if _, err := g.Bus().JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

// An API sink is created, read, changed and deleted through the API, and
// behaves as a file sink does: signed deliveries (checked with the
// Standard Webhooks library and the generated secret), its filters in its
// consumer, its history kept, and nothing of it left once deleted.
func TestEndpointLifecycle(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})

	var created map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("", "", "order.*"), &created); code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	name, _ := created["name"].(string)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(name, "ep_") || len(name) != 25 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("generated name %q secret %q", name, secret)
	}
	if created["source"] != "api" || created["description"] != "for " {
		t.Fatalf("created: %v", created)
	}
	// Reads never show the secret again.
	var got map[string]any
	if code := apiJSON(t, g, "GET", "/v1/sinks/"+name, "", &got); code != 200 {
		t.Fatalf("get: %d", code)
	}
	secrets := got["webhook"].(map[string]any)["secrets"].([]any)
	if len(secrets) != 1 || !strings.HasPrefix(secrets[0].(string), "sha256:") || got["secret"] != nil {
		t.Fatalf("read shows %v", got)
	}
	if got["state"] != "running" || got["metadata"].(map[string]any)["team"] != "t1" {
		t.Fatalf("state: %v", got)
	}
	// The view says what the kind can do, for the console to ask.
	if caps := fmt.Sprint(got["capabilities"]); caps != "[edit_target rotate_secret]" {
		t.Fatalf("capabilities: %s", caps)
	}

	verify, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	publishTo(t, g, "events.order.created", "o-1", []byte(`{"n":1}`))
	publishTo(t, g, "events.invoice.paid", "i-1", []byte(`{"n":2}`))
	testutil.WaitFor(t, 10*time.Second, "the order delivered", func() bool { return len(sr.hitsOf("gen")) == 1 })
	h := sr.hitsOf("gen")[0]
	hdr := http.Header{"Webhook-Id": {h.id}, "Webhook-Signature": {h.sig}}
	hdr.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
	if h.id != "o-1" {
		t.Fatalf("delivered %q", h.id)
	}

	// A patch that sends the fingerprint back keeps the secret; the new
	// filter takes effect through the reload path.
	patch := fmt.Sprintf(`{"events":["order.*","invoice.*"],"description":"patched","webhook":{"secrets":[%q]}}`, secrets[0])
	var patched map[string]any
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/"+name, patch, &patched); code != 200 {
		t.Fatalf("patch: %d %v", code, patched)
	}
	if patched["description"] != "patched" || patched["webhook"].(map[string]any)["secrets"].([]any)[0] != secrets[0] {
		t.Fatalf("patched: %v", patched)
	}
	publishTo(t, g, "events.invoice.paid", "i-2", []byte(`{"n":3}`))
	testutil.WaitFor(t, 10*time.Second, "the invoice delivered", func() bool {
		return slices.ContainsFunc(sr.hitsOf("gen"), func(h signedHit) bool { return h.id == "i-2" })
	})
	// i-1, published before the change, may come too: the consumer keeps
	// its position, and a widened filter takes what it had not yet passed
	// (README: "Events whose match changed mid-flight"). Nothing comes twice.
	seen := map[string]int{}
	for _, h := range sr.hitsOf("gen") {
		seen[h.id]++
	}
	if seen["o-1"] != 1 || seen["i-2"] != 1 || seen["i-1"] > 1 || len(seen) > 3 {
		t.Fatalf("deliveries after the patch: %v", seen)
	}
	for _, h := range sr.hitsOf("gen") {
		// Re-sign check with the reference library: the secret it was
		// given at creation still signs.
		ts := fmt.Sprint(time.Now().Unix())
		_ = ts
		if !validWith(t, verify, h) {
			t.Fatalf("delivery %s not signed with the generated secret: %s", h.id, h.sig)
		}
	}
	// Name and tenant cannot change; a bad patch names its fields.
	var bad struct {
		Errors []struct{ Field, Message string }
	}
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/"+name, `{"name":"other","tenant":"acme"}`, &bad); code != 422 || len(bad.Errors) != 2 {
		t.Fatalf("rename: %d %+v", code, bad)
	}
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/"+name, `{"name":{"x":1},"tenant":[1]}`, &bad); code != 422 || len(bad.Errors) != 2 {
		t.Fatalf("a name and tenant of the wrong type: %d %+v", code, bad)
	}

	var hist []map[string]any
	if code := apiJSON(t, g, "DELETE", "/v1/sinks/"+name, "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := apiJSON(t, g, "GET", "/v1/sinks/"+name, "", nil); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
	if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", name); err != jetstream.ErrConsumerNotFound {
		t.Fatalf("consumer after delete: %v", err)
	}
	if code := apiJSON(t, g, "GET", "/v1/sinks/"+name+"/history", "", &hist); code != 200 {
		t.Fatalf("history: %d", code)
	}
	var ops []string
	for _, r := range hist {
		ops = append(ops, r["op"].(string))
	}
	if strings.Join(ops, ",") != "create,update,delete,delete" {
		t.Fatalf("history ops %v", ops)
	}
	if a, _ := hist[1]["actor"].(string); !strings.HasPrefix(a, "test from ") {
		t.Fatalf("actor %q", a)
	}
	if strings.Contains(fmt.Sprint(hist), secret) {
		t.Fatal("history shows the secret")
	}
}

// validWith checks a delivery's signature with the reference library; the
// timestamp is not recorded, so the signature is checked over every
// timestamp of the last minute.
func validWith(t *testing.T, wh *standardwebhooks.Webhook, h signedHit) bool {
	t.Helper()
	now := time.Now().Unix()
	for ts := now; ts > now-60; ts-- {
		hdr := http.Header{}
		hdr.Set("webhook-id", h.id)
		hdr.Set("webhook-signature", h.sig)
		hdr.Set("webhook-timestamp", fmt.Sprint(ts))
		if wh.Verify(h.body, hdr) == nil {
			return true
		}
	}
	return false
}

// Invalid sinks get 422 with every problem at once, from the validator
// that checks the config file; what an API sink may not use without
// api.allow is refused; names are unique across the file and the API.
func TestEndpointValidationAndConflicts(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("fromfile", `[">"]`, 4, "")})
	var res struct {
		Errors []struct{ Field, Message string }
	}
	code := apiJSON(t, g, "POST", "/v1/sinks", `{"name":"bad name","events":["a..b"],"tenant":"x.y","retry":{"jitter":3},"webhook":{"url":"ftp://x","secrets":["nope"]}}`, &res)
	fields := map[string]bool{}
	for _, e := range res.Errors {
		fields[e.Field] = true
	}
	for _, f := range []string{"name", "events[0]", "tenant", "retry.jitter", "webhook.url", "webhook.secrets[0]"} {
		if code != 422 || !fields[f] {
			t.Fatalf("422 naming %s: got %d %+v", f, code, res.Errors)
		}
	}
	// Without api.allow, local files and private networks are refused.
	code = apiJSON(t, g, "POST", "/v1/sinks", fmt.Sprintf(`{"name":"a","events":[">"],"webhook":{"url":"https://example.com/x","allow_private_networks":true,"tls":{"ca_file":%q}}}`, rc.CAFile), &res)
	if code != 422 || len(res.Errors) != 2 || res.Errors[0].Field != "webhook.allow_private_networks" || res.Errors[1].Field != "webhook.tls.ca_file" {
		t.Fatalf("restricted fields: %d %+v", code, res.Errors)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/sinks", `{"name":"fromfile","events":[">"],"webhook":{"url":"https://example.com/x"}}`},
		{"PATCH", "/v1/sinks/fromfile", `{"description":"x"}`},
		{"DELETE", "/v1/sinks/fromfile", ""},
		{"POST", "/v1/sinks/fromfile/secrets/rotate", ""},
	} {
		var e map[string]string
		if code := apiJSON(t, g, c.method, c.path, c.body, &e); code != 409 || !strings.Contains(e["error"], "config file") {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, e)
		}
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks", `{"name":"twice","events":[">"],"webhook":{"url":"https://example.com/x"}}`, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks", `{"name":"twice","events":[">"],"webhook":{"url":"https://example.com/x"}}`, nil); code != 409 {
		t.Fatalf("create twice: %d", code)
	}
	var list []map[string]any
	if code := apiJSON(t, g, "GET", "/v1/sinks", "", &list); code != 200 || len(list) != 2 || list[0]["source"] != "config" || list[1]["source"] != "api" {
		t.Fatalf("list: %d %v", code, list)
	}
}

// A tenant's sink receives that tenant's events only, over thousands of
// events; an unscoped sink only unscoped ones; a "*" sink all of them.
// The filtering is the consumers' (the server's), and the tenant travels
// in the envelope.
func TestTenantIsolation(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	for _, s := range []struct{ name, tenant string }{{"acme", "acme"}, {"globex", "globex"}, {"plain", ""}, {"everyone", "*"}} {
		if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON(s.name, s.tenant, "order.>"), nil); code != 201 {
			t.Fatalf("create %s: %d", s.name, code)
		}
	}
	ctx := context.Background()
	const n = 3000
	tenants := []string{"acme", "globex", ""}
	futures := make([]jetstream.PubAckFuture, 0, n)
	for i := 0; i < n; i++ {
		tn := tenants[i%3]
		subj := "events.order.created"
		if tn != "" {
			subj = "tenants." + tn + ".order.created"
		}
		m := nats.NewMsg(subj)
		m.Data = []byte(fmt.Sprintf(`{"i":%d}`, i))
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("%s-%d", tn, i))
		f, err := g.Bus().JS.PublishMsgAsync(m)
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatal(err)
		case <-ctx.Done():
		}
	}
	testutil.WaitFor(t, 60*time.Second, "every delivery", func() bool {
		return len(sr.hitsOf("acme")) >= n/3 && len(sr.hitsOf("globex")) >= n/3 && len(sr.hitsOf("plain")) >= n/3 && len(sr.hitsOf("everyone")) >= n
	})
	// Every stored event is settled at its sinks by now; anything
	// misrouted would come with them, within a loopback round trip, and
	// 300ms is many of those.
	delivered := len(sr.requests())
	testutil.Holds(t, 300*time.Millisecond, "no delivery beyond those counted", func() bool { return len(sr.requests()) == delivered })
	for _, c := range []struct{ sink, tenant string }{{"acme", "acme"}, {"globex", "globex"}, {"plain", ""}} {
		for _, h := range sr.hitsOf(c.sink) {
			var env struct {
				ID, Tenant string
			}
			_ = json.Unmarshal(h.body, &env)
			if env.Tenant != c.tenant || !strings.HasPrefix(h.id, c.tenant+"-") {
				t.Fatalf("sink %s got %s of tenant %q", c.sink, h.id, env.Tenant)
			}
		}
		if got := len(sr.hitsOf(c.sink)); got != n/3 {
			t.Fatalf("sink %s: %d deliveries, want %d", c.sink, got, n/3)
		}
	}
	// The attempt log is filtered by tenant too.
	var recs []map[string]any
	testutil.WaitFor(t, 5*time.Second, "globex's attempts at the * sink", func() bool {
		apiJSON(t, g, "GET", "/v1/attempts?sink=everyone&tenant=globex&limit=10", "", &recs)
		return len(recs) == 10
	})
	for _, r := range recs {
		if r["tenant"] != "globex" {
			t.Fatalf("attempt of tenant %v", r["tenant"])
		}
	}
	var page []map[string]any
	if code := apiJSON(t, g, "GET", "/v1/sinks?tenant=acme", "", &page); code != 200 || len(page) != 1 || page[0]["name"] != "acme" {
		t.Fatalf("tenant filter: %v", page)
	}
}

// During a rotation's grace every delivery carries two signatures, one
// per secret, each valid on its own; after the grace only the new one.
func TestSecretRotation(t *testing.T) { forEachDelivery(t, testSecretRotation) }

func testSecretRotation(t *testing.T, delivery string) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	var created map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks", apiDelivery(sr.apiSinkJSON("rot", "", ">"), delivery), &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	oldSecret := created["secret"].(string)
	var rot struct {
		Secret            string    `json:"secret"`
		PreviousExpiresAt time.Time `json:"previous_expires_at"`
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks/rot/secrets/rotate", `{"grace":"3s"}`, &rot); code != 200 || !strings.HasPrefix(rot.Secret, "whsec_") {
		t.Fatalf("rotate: %d %+v", code, rot)
	}
	if d := time.Until(rot.PreviousExpiresAt); d < 2*time.Second || d > 4*time.Second {
		t.Fatalf("previous expires in %s", d)
	}
	oldWH, _ := standardwebhooks.NewWebhook(oldSecret)
	newWH, _ := standardwebhooks.NewWebhook(rot.Secret)
	publishTo(t, g, "events.a", "during", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivery during the grace", func() bool { return len(sr.hitsOf("rot")) == 1 })
	h := sr.hitsOf("rot")[0]
	if strings.Count(h.sig, "v1,") != 2 || !validWith(t, oldWH, h) || !validWith(t, newWH, h) {
		t.Fatalf("during the grace: %q (old valid %v, new valid %v)", h.sig, validWith(t, oldWH, h), validWith(t, newWH, h))
	}
	testutil.WaitFor(t, time.Until(rot.PreviousExpiresAt)+10*time.Second, "the old secret gone from the running sink", func() bool {
		var got map[string]any
		apiJSON(t, g, "GET", "/v1/sinks/rot", "", &got)
		return len(got["webhook"].(map[string]any)["secrets"].([]any)) == 1
	})
	// The record is rewritten only once the swapped-out dispatcher has
	// drained what it held and stopped.
	kv := sinksBucket(t, g.Bus().JS)
	testutil.WaitFor(t, 10*time.Second, "the old secret gone from the stored record", func() bool {
		e, err := kv.Get(context.Background(), "rot")
		return err == nil && !strings.Contains(string(e.Value()), oldSecret)
	})
	publishTo(t, g, "events.a", "after", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivery after the grace", func() bool { return len(sr.hitsOf("rot")) == 2 })
	h = sr.hitsOf("rot")[1]
	if strings.Count(h.sig, "v1,") != 1 || validWith(t, oldWH, h) || !validWith(t, newWH, h) {
		t.Fatalf("after the grace: %q", h.sig)
	}
	var got map[string]any
	apiJSON(t, g, "GET", "/v1/sinks/rot", "", &got)
	if n := len(got["webhook"].(map[string]any)["secrets"].([]any)); n != 1 {
		t.Fatalf("secrets shown after the grace: %d", n)
	}
}

// A test send reaches the receiver, signed, and leaves no trace: nothing
// in the stream, the attempt log or the dead letters.
func TestTestSendLeavesNoTrace(t *testing.T) { forEachDelivery(t, testTestSendLeavesNoTrace) }

func testTestSendLeavesNoTrace(t *testing.T, delivery string) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	var created map[string]any
	apiJSON(t, g, "POST", "/v1/sinks", apiDelivery(sr.apiSinkJSON("probe", "acme", ">"), delivery), &created)
	ctx := context.Background()
	before, err := g.Bus().JS.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info0, _ := before.Info(ctx)
	records0 := deliveryRecords(t, g)
	var res struct {
		OK         bool   `json:"ok"`
		EventID    string `json:"event_id"`
		Status     int    `json:"status"`
		DurationMS int64  `json:"duration_ms"`
		Response   string `json:"response"`
		Error      string `json:"error"`
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks/probe/test", `{"type":"ping.check","data":{"hello":"world"}}`, &res); code != 200 || !res.OK || res.Status != 204 {
		t.Fatalf("test send: %d %+v", code, res)
	}
	hits := sr.hitsOf("probe")
	if len(hits) != 1 || hits[0].id != res.EventID || !strings.Contains(string(hits[0].body), `"hello":"world"`) || !strings.Contains(string(hits[0].body), `"tenant":"acme"`) {
		t.Fatalf("receiver saw %+v", hits)
	}
	wh, _ := standardwebhooks.NewWebhook(created["secret"].(string))
	if !validWith(t, wh, hits[0]) {
		t.Fatal("the test send is not signed with the sink's secret")
	}
	// A failing destination: ok false, its status and answer shown.
	sr.mu.Lock()
	sr.code = 500
	sr.mu.Unlock()
	if code := apiJSON(t, g, "POST", "/v1/sinks/probe/test", "", &res); code != 200 || res.OK || res.Status != 500 || !strings.Contains(res.Response, "<b>ok</b>") || res.Error == "" {
		t.Fatalf("failing test send: %d %+v", code, res)
	}
	info1, _ := before.Info(ctx)
	if info1.State.Msgs != info0.State.Msgs {
		t.Fatalf("the stream grew from %d to %d messages", info0.State.Msgs, info1.State.Msgs)
	}
	if n := deliveryRecords(t, g); n != records0 {
		t.Fatalf("the deliveries stream went from %d to %d records", records0, n)
	}
	// The attempt log keeps a record in memory at most a second (a busy
	// log's longest wait, attempts.busyMaxWait) before it is readable.
	var attempts []map[string]any
	testutil.Holds(t, 1500*time.Millisecond, "an empty attempt log", func() bool {
		return apiJSON(t, g, "GET", "/v1/attempts?sink=probe", "", &attempts) == 200 && len(attempts) == 0
	})
	if code := apiJSON(t, g, "GET", "/v1/attempts?sink=probe", "", &attempts); code != 200 || len(attempts) != 0 {
		t.Fatalf("attempt log: %d %v", code, attempts)
	}
	var dl []map[string]any
	if code := apiJSON(t, g, "GET", "/v1/sinks/probe/dead-letters", "", &dl); code != 200 || len(dl) != 0 {
		t.Fatalf("dead letters: %v", dl)
	}
}

// API sinks come back after a restart, and a second replica sharing the
// NATS server applies a change within 2 seconds: the sink it runs
// delivers, and a deleted sink stops on both.
func TestAPISinksAcrossRestartsAndReplicas(t *testing.T) {
	sr := newSigReceiver(t)
	js := testutil.StartJetStream(t, nil)
	replica := fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n%s", js.URL(), apiTop)
	g1, stop1 := gatewaytest.Run(t, gatewaytest.Options{YAML: replica})
	g2, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: replica})
	var cerr map[string]any
	if code := apiJSON(t, g1, "POST", "/v1/sinks", sr.apiSinkJSON("shared", "", ">"), &cerr); code != 201 {
		t.Fatalf("create: %d %v", code, cerr)
	}
	start := time.Now()
	testutil.WaitFor(t, 2*time.Second, "the second replica runs the new sink", func() bool {
		var v map[string]any
		return apiJSON(t, g2, "GET", "/v1/sinks/shared", "", &v) == 200 && v["state"] == "running"
	})
	t.Logf("applied on the second replica in %s", time.Since(start))
	if code := apiJSON(t, g2, "PATCH", "/v1/sinks/shared", `{"disabled":true}`, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	testutil.WaitFor(t, 2*time.Second, "the first replica sees it disabled", func() bool {
		var v map[string]any
		return apiJSON(t, g1, "GET", "/v1/sinks/shared", "", &v) == 200 && v["state"] == "disabled"
	})
	publishTo(t, g1, "events.x", "while-disabled", []byte(`{}`))
	// An enabled sink delivers within a loopback round trip of the store
	// (the backlog below goes out as soon as it is enabled).
	testutil.Holds(t, 500*time.Millisecond, "no delivery while disabled", func() bool { return len(sr.hitsOf("shared")) == 0 })
	if n := len(sr.hitsOf("shared")); n != 0 {
		t.Fatalf("a disabled sink delivered %d", n)
	}
	var e map[string]string
	if code := apiJSON(t, g1, "POST", "/v1/sinks/shared/resume", "", &e); code != 409 {
		t.Fatalf("resume of a disabled sink: %d %v", code, e)
	}
	if code := apiJSON(t, g1, "PATCH", "/v1/sinks/shared", `{"disabled":false}`, nil); code != 200 {
		t.Fatalf("enable: %d", code)
	}
	testutil.WaitFor(t, 10*time.Second, "the backlog kept while disabled is delivered", func() bool { return len(sr.hitsOf("shared")) == 1 })

	// A restart brings it back from the bucket.
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	g1b, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: replica})
	_ = g1b
	var v map[string]any
	testutil.WaitFor(t, 5*time.Second, "the sink after a restart", func() bool {
		return apiJSON(t, g1b, "GET", "/v1/sinks/shared", "", &v) == 200 && v["state"] == "running" && v["source"] == "api"
	})
	publishTo(t, g1b, "events.x", "after-restart", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivered after the restart", func() bool { return len(sr.hitsOf("shared")) == 2 })

	var derr map[string]any
	if code := apiJSON(t, g2, "DELETE", "/v1/sinks/shared", "", &derr); code != 204 {
		t.Fatalf("delete: %d %v", code, derr)
	}
	testutil.WaitFor(t, 2*time.Second, "gone from the other replica", func() bool {
		return apiJSON(t, g1b, "GET", "/v1/sinks/shared", "", nil) == 404
	})
	// The recovery of lost consumers must not bring it back: a dispatcher
	// still pulling would find it lost within a pull (1s) and recreate it
	// 100ms later.
	testutil.Holds(t, 2*time.Second, "no consumer of the deleted sink", func() bool {
		_, err := g1b.Bus().JS.Consumer(context.Background(), "EVENTS", "shared")
		return err == jetstream.ErrConsumerNotFound
	})
	if _, err := g1b.Bus().JS.Consumer(context.Background(), "EVENTS", "shared"); err != jetstream.ErrConsumerNotFound {
		t.Fatalf("consumer of a deleted sink: %v", err)
	}
	kv, _ := g1b.Bus().JS.KeyValue(context.Background(), bus.SinksBucket)
	if _, err := kv.Get(context.Background(), "shared"); err != jetstream.ErrKeyNotFound {
		t.Fatalf("bucket after delete: %v", err)
	}
}

// Changes made under load lose nothing: while events flow, the sink is
// patched again and again (each a build-swap-drain), and every event is
// delivered.
func TestPatchUnderLoadLosesNothing(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("busy", "", ">"), nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			m := nats.NewMsg("events.load")
			m.Data = []byte(`{}`)
			m.Header.Set(event.HeaderMsgID, fmt.Sprintf("L%d", i))
			if _, err := g.Bus().JS.PublishMsg(context.Background(), m); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < 6; i++ {
		if code := apiJSON(t, g, "PATCH", "/v1/sinks/busy", fmt.Sprintf(`{"concurrency":%d,"description":"v%d"}`, 2+i, i), nil); code != 200 {
			t.Fatalf("patch %d: %d", i, code)
		}
		// The next change lands on a sink that has delivered since.
		was := len(sr.hitsOf("busy"))
		testutil.WaitFor(t, 10*time.Second, "deliveries since the patch", func() bool {
			select {
			case <-done:
				return true
			default:
				return len(sr.hitsOf("busy")) > was
			}
		})
	}
	<-done
	testutil.WaitFor(t, 60*time.Second, "every event delivered", func() bool {
		seen := map[string]bool{}
		for _, h := range sr.hitsOf("busy") {
			seen[h.id] = true
		}
		return len(seen) == n
	})
	if extra := len(sr.hitsOf("busy")) - n; extra > 0 {
		t.Logf("%d duplicate deliveries across 6 swaps", extra)
	}
}

// A config file that takes an API sink's name is refused while the API
// sink's consumer holds the name: the file sink would inherit its
// position, redeliveries and dead letters. The error names the API sink
// and the way out; the API sink keeps running meanwhile. Taken (the API
// sink deleted), the file sink starts clean, never taking the consumer
// over.
func TestFileSinkTakingAnAPISinksNameIsRefused(t *testing.T) {
	sr := newSigReceiver(t)
	dir := t.TempDir()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: apiTop})
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("clash", "", ">"), nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	gatewaytest.Publish(t, g, "order.created", "before-the-clash", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the API sink delivering", func() bool { return len(sr.hitsOf("clash")) == 1 })
	src := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n%ssinks:%s", dir, apiTop, sr.SinkYAML("clash", `[">"]`, 4, ""))
	cfg, err := config.Parse("test.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Reload(context.Background(), cfg, false)
	if err == nil || !strings.Contains(err.Error(), "belongs to the API sink clash") || !strings.Contains(err.Error(), "DELETE /v1/sinks/clash") {
		t.Fatalf("reload taking an API sink's name: %v, want a refusal naming the API sink and the way out", err)
	}
	var list []map[string]any
	apiJSON(t, g, "GET", "/v1/sinks", "", &list)
	if len(list) != 1 || list[0]["source"] != "api" || list[0]["state"] != "running" {
		t.Fatalf("after the refused clash: %v", list)
	}
	if v := promtest.ToFloat64(g.Metrics().APISinksNotRunning.WithLabelValues("conflict")); v != 0 {
		t.Fatalf("conflict gauge %v after a refused reload", v)
	}
	if code := apiJSON(t, g, "DELETE", "/v1/sinks/clash", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if _, err := g.Reload(context.Background(), cfg, false); err != nil {
		t.Fatalf("reload once the API sink is deleted: %v", err)
	}
	apiJSON(t, g, "GET", "/v1/sinks", "", &list)
	if len(list) != 1 || list[0]["source"] != "config" || list[0]["state"] != "running" {
		t.Fatalf("the file sink after the API sink's delete: %v", list)
	}
	c, err := g.Bus().JS.Consumer(t.Context(), "EVENTS", "clash")
	if err != nil {
		t.Fatal(err)
	}
	if inc := bus.IncarnationOf(c.CachedInfo().Config); !strings.HasPrefix(inc, "file-") {
		t.Fatalf("the file sink runs on a consumer of incarnation %q", inc)
	}
	gatewaytest.Publish(t, g, "order.created", "after-the-clash", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the file sink delivering", func() bool { return len(sr.hitsOf("clash")) >= 2 })
	for _, h := range sr.hitsOf("clash")[1:] {
		if h.id != "after-the-clash" {
			t.Fatalf("the file sink delivered %s, published before it existed", h.id)
		}
	}
}
