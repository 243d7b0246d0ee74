package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// Records read back from the sinks bucket are judged as a create is:
// whoever can publish to $KV.SWITCHYARD_SINKS.> gains nothing api.allow
// refuses.

// replicaYAML is a gateway on the shared JetStream at url, with top added.
func replicaYAML(url, top, sinks string) string {
	return fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n%ssinks:%s", url, top, sinks)
}

// withKey adds admin.secrets_key_file to a replicaYAML's admin block.
func withKey(src, key string) string {
	return strings.Replace(src, `token: "s3cret"}`, fmt.Sprintf(`token: "s3cret", secrets_key_file: %q}`, key), 1)
}

func keyFile(t *testing.T) string {
	key := filepath.Join(t.TempDir(), "sinks.key")
	if err := os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

func sinksBucket(t *testing.T, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bus.SinksBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// plantedSpec is an API webhook sink with its secret, as a record holds it.
func plantedSpec(sr *sigReceiver, name string) string {
	return strings.Replace(sr.apiSinkJSON(name, "", ">"), `"webhook":{`, fmt.Sprintf(`"webhook":{"secrets":[%q],`, secret), 1)
}

// plant writes a plain record straight into the sinks bucket, as a client
// with a publish on the bucket's subjects would.
func plant(t *testing.T, kv jetstream.KeyValue, name, spec string) {
	t.Helper()
	now := time.Now().UTC()
	rec, _ := json.Marshal(map[string]any{"spec": json.RawMessage(spec), "op": "create", "actor": "intruder", "at": now, "created_at": now})
	if _, err := kv.Put(context.Background(), name, rec); err != nil {
		t.Fatal(err)
	}
}

// refusedRecords reads switchyard_sink_records_refused_total{reason}.
func refusedRecords(t *testing.T, g *gateway.Gateway, reason string) float64 {
	t.Helper()
	mfs, err := g.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "switchyard_sink_records_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// apiState is a sink's state and state_reason as GET /v1/sinks/{name}
// shows them ("" when unknown).
func apiState(t *testing.T, g *gateway.Gateway, name string) (string, string) {
	t.Helper()
	var v map[string]any
	if apiJSON(t, g, "GET", "/v1/sinks/"+name, "", &v) != 200 {
		return "", ""
	}
	s, _ := v["state"].(string)
	r, _ := v["state_reason"].(string)
	return s, r
}

// assertIdle checks that a sink never pulled: a witness sink on the same
// receiver got the event published, the sink has no consumer and its path
// on the receiver saw nothing.
func assertIdle(t *testing.T, g *gateway.Gateway, sr *sigReceiver, name, id string, witnessHits int) {
	t.Helper()
	publishTo(t, g, "events.x", id, []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "the witness sink's delivery", func() bool { return len(sr.hitsOf("witness")) == witnessHits })
	if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", name); err != jetstream.ErrConsumerNotFound {
		t.Errorf("sink %s has a consumer (%v): it was started", name, err)
	}
	if n := len(sr.hitsOf(name)); n != 0 {
		t.Errorf("sink %s delivered %d events to the loopback receiver", name, n)
	}
}

// A record planted in the bucket that api.allow refuses (private networks)
// never runs: not when the watch brings it, not after a restart; its
// status says why and the refusal is counted.
func TestPlantedRecordIsJudgedAsACreate(t *testing.T) {
	sr := newSigReceiver(t)
	js := testutil.StartJetStream(t, nil)
	src := replicaYAML(js.URL(), "api: {allow: [tls_files]}\n", sr.SinkYAML("witness", `[">"]`, 4, ""))
	g, stop := gatewaytest.Run(t, gatewaytest.Options{YAML: src})
	kv := sinksBucket(t, js.JS)
	plant(t, kv, "planted", plantedSpec(sr, "planted"))
	testutil.WaitFor(t, 5*time.Second, "the planted record applied", func() bool { s, _ := apiState(t, g, "planted"); return s != "" })
	assertIdle(t, g, sr, "planted", "e1", 1)
	if s, r := apiState(t, g, "planted"); s != "refused" || !strings.Contains(r, "allow_private_networks") || !strings.Contains(r, "api.allow") {
		t.Fatalf("planted record: state %q (%s), want refused, naming allow_private_networks and api.allow", s, r)
	}
	if v := refusedRecords(t, g, "not_allowed"); v != 1 {
		t.Fatalf("refused records (not_allowed) = %v, want 1", v)
	}

	// Read at start: still refused.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g2, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: src})
	if s, r := apiState(t, g2, "planted"); s != "refused" || !strings.Contains(r, "allow_private_networks") {
		t.Fatalf("after a restart: state %q (%s), want refused", s, r)
	}
	assertIdle(t, g2, sr, "planted", "e2", 2)
	if v := refusedRecords(t, g2, "not_allowed"); v != 1 {
		t.Fatalf("after a restart, refused records (not_allowed) = %v, want 1", v)
	}
}

// Plain records written before admin.secrets_key_file was set are sealed
// on the first start with the key and keep running; a plain record that
// appears later, while running or between two starts, is refused.
func TestPlainRecordsSealedOnceThenRefused(t *testing.T) {
	sr := newSigReceiver(t)
	js := testutil.StartJetStream(t, nil)
	plainSrc := replicaYAML(js.URL(), apiTop, sr.SinkYAML("witness", `[">"]`, 4, ""))
	g, stop := gatewaytest.Run(t, gatewaytest.Options{YAML: plainSrc})
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("before", "", ">"), nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	kv := sinksBucket(t, js.JS)
	keyed := withKey(plainSrc, keyFile(t))
	g, stop = gatewaytest.Run(t, gatewaytest.Options{YAML: keyed})
	e, err := kv.Get(context.Background(), "before")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.Value()), sr.Server.URL) || !strings.Contains(string(e.Value()), `"sealed"`) {
		t.Fatalf("after the first start with the key the record is still plain: %s", e.Value())
	}
	if s, r := apiState(t, g, "before"); s != "running" {
		t.Fatalf("the sealed sink: %q (%s)", s, r)
	}
	publishTo(t, g, "events.x", "s1", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "the sealed sink delivers", func() bool { return len(sr.hitsOf("before")) == 1 })

	// A plain record written while it runs with the key.
	plant(t, kv, "late", plantedSpec(sr, "late"))
	testutil.WaitFor(t, 5*time.Second, "the plain record applied", func() bool { s, _ := apiState(t, g, "late"); return s != "" })
	if s, r := apiState(t, g, "late"); s != "refused" || !strings.Contains(r, "plain") {
		t.Fatalf("a plain record after the key: state %q (%s), want refused for being plain", s, r)
	}
	if v := refusedRecords(t, g, "unsealed"); v != 1 {
		t.Fatalf("refused records (unsealed) = %v, want 1", v)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A plain record written between two starts with the key is not sealed.
	plant(t, kv, "between", plantedSpec(sr, "between"))
	g, _ = gatewaytest.Run(t, gatewaytest.Options{YAML: keyed})
	for _, name := range []string{"late", "between"} {
		if s, r := apiState(t, g, name); s != "refused" || !strings.Contains(r, "plain") {
			t.Fatalf("%s on the second start with the key: state %q (%s), want refused", name, s, r)
		}
		e, err := kv.Get(context.Background(), name)
		if err != nil || strings.Contains(string(e.Value()), `"sealed"`) {
			t.Fatalf("%s was sealed on the second start: %v %s", name, err, e.Value())
		}
	}
	if v := refusedRecords(t, g, "unsealed"); v != 2 {
		t.Fatalf("refused records (unsealed) on the second start = %v, want 2", v)
	}
	if s, _ := apiState(t, g, "before"); s != "running" {
		t.Fatalf("the sealed sink on the second start: %q", s)
	}
	assertIdle(t, g, sr, "between", "s2", 2)
}

// A rotated-out secret leaves the stored record when its grace ends: the
// bucket does not keep a secret that no longer signs.
func TestRotatedOutSecretLeavesTheStoredRecord(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	var created map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("rot", "", ">"), &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	oldSecret := created["secret"].(string)
	var rot map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks/rot/secrets/rotate", `{"grace":"1s"}`, &rot); code != 200 {
		t.Fatalf("rotate: %d %v", code, rot)
	}
	kv := sinksBucket(t, g.Bus().JS)
	e, err := kv.Get(context.Background(), "rot")
	if err != nil || !strings.Contains(string(e.Value()), oldSecret) {
		t.Fatalf("during the grace the record should hold both secrets: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the rotated-out secret gone from the stored record", func() bool {
		if e, err = kv.Get(context.Background(), "rot"); err != nil {
			t.Fatal(err)
		}
		return !strings.Contains(string(e.Value()), oldSecret)
	})
	if strings.Contains(string(e.Value()), "expiring_secrets") || !strings.Contains(string(e.Value()), rot["secret"].(string)) {
		t.Fatalf("after the grace: %s", e.Value())
	}
	// Still running, with the new secret.
	publishTo(t, g, "events.x", "r1", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivery after the grace", func() bool { return len(sr.hitsOf("rot")) == 1 })
}

// An api.allow narrowed by a reload stops the API sinks that now break
// it, saying why, and keeps their backlog; allowing it again starts them.
func TestNarrowedAllowStopsAPISinks(t *testing.T) {
	sr := newSigReceiver(t)
	js := testutil.StartJetStream(t, nil)
	src := replicaYAML(js.URL(), apiTop, sr.SinkYAML("witness", `[">"]`, 4, ""))
	g, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: src})
	if code := apiJSON(t, g, "POST", "/v1/sinks", sr.apiSinkJSON("revoked", "", ">"), nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	publishTo(t, g, "events.x", "a1", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "delivered while allowed", func() bool { return len(sr.hitsOf("revoked")) == 1 })
	reload := func(src string) {
		t.Helper()
		cfg, err := config.Parse("test.yaml", []byte(src), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Reload(context.Background(), cfg, true); err != nil {
			t.Fatal(err)
		}
	}
	reload(replicaYAML(js.URL(), "api: {allow: [tls_files]}\n", sr.SinkYAML("witness", `[">"]`, 4, "")))
	if s, r := apiState(t, g, "revoked"); s != "refused" || !strings.Contains(r, "allow_private_networks") {
		t.Fatalf("after api.allow lost private_networks: state %q (%s), want refused naming allow_private_networks", s, r)
	}
	publishTo(t, g, "events.x", "a2", []byte(`{}`))
	testutil.WaitFor(t, 10*time.Second, "the witness sink's delivery", func() bool { return len(sr.hitsOf("witness")) == 2 })
	if n := len(sr.hitsOf("revoked")); n != 1 {
		t.Fatalf("a sink api.allow no longer allows delivered: %d hits", n)
	}
	reload(src)
	testutil.WaitFor(t, 10*time.Second, "the kept backlog delivered once allowed again", func() bool { return len(sr.hitsOf("revoked")) == 2 })
	if s, r := apiState(t, g, "revoked"); s != "running" {
		t.Fatalf("allowed again: %q (%s)", s, r)
	}
}
