package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// With admin.secrets_key_file, a secret never lies in the bucket in the
// clear, and a restart with the key reads the sinks back.
func TestSealedSpecsAtRest(t *testing.T) {
	sr := newSigReceiver(t)
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "sinks.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	top := apiTop + fmt.Sprintf("admin: {listen: \"127.0.0.1:0\", token: \"s3cret\", secrets_key_file: %q}\n", key)
	src := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nshutdown_grace: 2s\n%s", dir, top)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{YAML: src})
	var created map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("sealed", "", ">"), &created); code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	secret := created["secret"].(string)
	kv, err := g.Bus().JS.KeyValue(context.Background(), bus.SinksBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "sealed")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.Value()), secret) || strings.Contains(string(e.Value()), strings.TrimPrefix(secret, "whsec_")) || strings.Contains(string(e.Value()), sr.Server.URL) {
		t.Fatalf("the bucket holds the spec in the clear: %s", e.Value())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g2, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: src})
	testutil.WaitFor(t, 5*time.Second, "the sealed sink after a restart", func() bool {
		var v map[string]any
		return apiJSON(t, g2, "GET", "/v1/sinks/sealed", "", &v) == 200 && v["state"] == "running"
	})
	publishTo(t, g2, "events.x", "s1", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivery", func() bool { return len(sr.hitsOf("sealed")) == 1 })
}

// GET /v1/sinks pages by name with limit and cursor, and filters by tenant.
func TestSinksListPages(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop, Sinks: sr.SinkYAML("file-sink", `[">"]`, 4, "")})
	for i := 0; i < 5; i++ {
		if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON(fmt.Sprintf("api-%d", i), "t1", ">"), nil); code != 201 {
			t.Fatalf("create %d: %d", i, code)
		}
	}
	var all []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		req, _ := http.NewRequest("GET", "http://"+g.AdminAddr()+"/v1/sinks?limit=2&cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page []map[string]any
		if err := jsonDecode(resp, &page); err != nil {
			t.Fatal(err)
		}
		for _, s := range page {
			all = append(all, s["name"].(string))
		}
		cursor = resp.Header.Get("X-Next-Cursor")
		if cursor == "" {
			break
		}
		if !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("no Link: %v", resp.Header)
		}
	}
	if got := strings.Join(all, ","); got != "api-0,api-1,api-2,api-3,api-4,file-sink" {
		t.Fatalf("paged: %s", got)
	}
	var t1 []map[string]any
	apiJSON(t, g, "GET", "/v1/sinks?tenant=t1", "", &t1)
	if len(t1) != 5 {
		t.Fatalf("tenant filter: %d", len(t1))
	}
}

// A sink whose deliveries all fail for disable_after is disabled, with the
// reason in its state; its backlog is kept.
func TestDisableAfterContinuousFailure(t *testing.T) {
	for _, delivery := range []string{"dedicated", "shared"} {
		t.Run(delivery, func(t *testing.T) { testDisableAfterContinuousFailure(t, delivery) })
	}
}

func testDisableAfterContinuousFailure(t *testing.T, delivery string) {
	defer gateway.SetFailureCheckInterval(100 * time.Millisecond)()
	sr := newSigReceiver(t)
	sr.code = 503
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	def := strings.Replace(sr.apiSinkJSON("flaky", "", ">"), `"concurrency":4,`, `"concurrency":4,"delivery":"`+delivery+`","disable_after":"1s","retry":{"schedule":["100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms","100ms"]},"breaker":{"enabled":false},`, 1)
	if code := apiJSON(t, g, "POST", "/v1/sinks", def, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	publishTo(t, g, "events.x", "f1", []byte(`{}`))
	var v map[string]any
	testutil.WaitFor(t, 10*time.Second, "disabled", func() bool {
		return apiJSON(t, g, "GET", "/v1/sinks/flaky", "", &v) == 200 && v["state"] == "disabled"
	})
	if r, _ := v["state_reason"].(string); !strings.Contains(r, "every delivery failed for 1s") || v["disabled"] != true {
		t.Fatalf("disabled sink: %v", v)
	}
	var hist []map[string]any
	apiJSON(t, g, "GET", "/v1/sinks/flaky/history", "", &hist)
	if last := hist[len(hist)-1]; last["op"] != "auto-disable" || last["actor"] != "switchyard" {
		t.Fatalf("history: %v", hist)
	}
	// The event is kept, not dead-lettered: enabled again, it is delivered.
	sr.mu.Lock()
	sr.code = 204
	sr.mu.Unlock()
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/flaky", `{"disabled":false}`, nil); code != 200 {
		t.Fatalf("enable: %d", code)
	}
	testutil.WaitFor(t, 10*time.Second, "delivered once enabled", func() bool {
		var v map[string]any
		apiJSON(t, g, "GET", "/v1/sinks/flaky", "", &v)
		return v["delivered"] == float64(1)
	})
	if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "flaky"); delivery == "dedicated" && err == jetstream.ErrConsumerNotFound {
		t.Fatal("consumer gone")
	}
}

func jsonDecode(resp *http.Response, out any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// A replica shows a sink whose consumer another replica's breaker paused
// in JetStream as open, with until when, rather than running.
func TestStatusShowsAnotherReplicasBreaker(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	if _, err := g.Bus().JS.PauseConsumer(context.Background(), "EVENTS", "s", until); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if code := apiJSON(t, g, "GET", "/v1/sinks/s", "", &v); code != 200 || v["state"] != "open" ||
		!strings.Contains(fmt.Sprint(v["state_reason"]), until.Format(time.RFC3339)) {
		t.Fatalf("status: %d %v %v", code, v["state"], v["state_reason"])
	}
}

// A replay started on one replica shows its progress on another, which
// can cancel it: the state bucket carries both.
func TestReplayProgressAndCancelFromAnotherReplica(t *testing.T) {
	rc := testutil.NewReceiver(t)
	js := testutil.StartJetStream(t, nil)
	replica := fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\nsinks:%s", js.URL(), rc.SinkYAML("s", `[">"]`, 4, ""))
	g1, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: replica})
	g2, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: replica})
	const n = 200
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g1, "order.created", fmt.Sprintf("r%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 20*time.Second, "the first deliveries", func() bool { return len(rc.Hits("s")) >= n })
	rc.SetDelay("", 100*time.Millisecond)
	var started map[string]any
	if code := apiJSON(t, g1, "POST", "/v1/sinks/s/replay", fmt.Sprintf(`{"since":%q}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)), &started); code != 202 {
		t.Fatalf("replay: %d %v", code, started)
	}
	id := started["id"].(string)
	var st map[string]any
	testutil.WaitFor(t, 10*time.Second, "progress on the other replica", func() bool {
		return apiJSON(t, g2, "GET", "/v1/replays/"+id, "", &st) == 200 && st["state"] == "running" && st["done"].(float64) > 0
	})
	var list []map[string]any
	if apiJSON(t, g2, "GET", "/v1/replays", "", &list); len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("the other replica lists %v", list)
	}
	if code := apiJSON(t, g2, "DELETE", "/v1/replays/"+id, "", &st); code != 200 || st["state"] != "canceled" {
		t.Fatalf("cancel from the other replica: %d %v", code, st)
	}
	if apiJSON(t, g1, "GET", "/v1/replays/"+id, "", &st); st["state"] != "canceled" || st["done"].(float64) >= n {
		t.Fatalf("on the replica running it: %v", st)
	}
}
