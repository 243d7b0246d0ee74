package gateway_test

import (
	"context"
	"fmt"
	"os"
	"sort"
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

// reloadRemovingOne reloads g, started on Options{Dir: dir, Top: apiTop},
// without --prune to the config with sinks alone, and returns that
// config. The reload must remove exactly one sink.
func reloadRemovingOne(t *testing.T, g *gateway.Gateway, dir, sinks string) *config.Config {
	t.Helper()
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n%s\nsinks:", dir, apiTop)
	cfg, err := config.Parse("r.yaml", []byte(base+sinks), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := g.Reload(context.Background(), cfg, false); err != nil || len(plan.Removed) != 1 {
		t.Fatalf("reload: %+v %v", plan, err)
	}
	return cfg
}

// seriesOf gathers the gateway's registry and returns the metric names
// that have at least one series labelled sink=name.
func seriesOf(t *testing.T, g *gateway.Gateway, name string) []string {
	t.Helper()
	return series(t, g, name, false)
}

// countedOf is seriesOf for the series that counted something: a counter
// or gauge not 0, a histogram with an observation.
func countedOf(t *testing.T, g *gateway.Gateway, name string) []string {
	t.Helper()
	return series(t, g, name, true)
}

func series(t *testing.T, g *gateway.Gateway, name string, counted bool) []string {
	t.Helper()
	mfs, err := g.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				zero := m.GetCounter().GetValue() == 0 && m.GetGauge().GetValue() == 0 && m.GetHistogram().GetSampleCount() == 0
				if l.GetName() == "sink" && l.GetValue() == name && !(counted && zero) {
					out = append(out, mf.GetName())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// A deleted sink's metric series go with it, every label combination of
// them: a file sink removed by a reload and an API sink deleted through
// the API leave none behind (they stayed for good, so sink churn grew
// memory and a later sink of the name inherited its counts), and the
// sinks that stay keep theirs.
func TestRemovedSinksLeaveNoMetricSeries(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: apiTop, Sinks: rc.SinkYAML("keep", `[">"]`, 4, "") + rc.SinkYAML("gone", `[">"]`, 4, "")})
	body := fmt.Sprintf(`{"name":"viaapi","events":[">"],"webhook":{"url":"%s/viaapi","secrets":[%q],"allow_private_networks":true,"tls":{"ca_file":%q}}}`,
		rc.Server.URL, secret, rc.CAFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	gatewaytest.Publish(t, g, "order.created", "o-1", []byte(`{}`), nil)
	for _, s := range []string{"keep", "gone", "viaapi"} {
		testutil.WaitFor(t, 10*time.Second, "delivery to "+s, func() bool { return len(rc.Hits(s)) == 1 })
	}
	// The counters are bumped after the receiver answers: wait for them.
	testutil.WaitFor(t, 5*time.Second, "every sink's delivery counted", func() bool {
		for _, s := range []string{"keep", "gone", "viaapi"} {
			if len(seriesOf(t, g, s)) < 5 {
				return false
			}
		}
		return true
	})
	before := seriesOf(t, g, "keep")

	reloadRemovingOne(t, g, dir, rc.SinkYAML("keep", `[">"]`, 4, ""))
	if code := apiJSON(t, g, "DELETE", "/v1/sinks/viaapi", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	for _, s := range []string{"gone", "viaapi"} {
		if left := seriesOf(t, g, s); len(left) > 0 {
			t.Errorf("removed sink %s still has series of %v", s, left)
		}
	}
	if after := seriesOf(t, g, "keep"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the sink that stays: series %v, before %v", after, before)
	}
}

// A config-file sink removed by a reload without --prune keeps its
// consumer and backlog on purpose; creating an API sink of its name
// destroyed them (CreateSink cleaned the name's state). The name is
// refused instead (409, saying what holds it and what frees it), the
// backlog stays in the consumer, and a reload with --prune frees it.
func TestAPICreateKeepsARemovedFileSinksBacklog(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: apiTop, Sinks: rc.SinkYAML("keep", `["user.*"]`, 4, "") + rc.SinkYAML("legacy", `["order.*"]`, 4, "")})
	cfg := reloadRemovingOne(t, g, dir, rc.SinkYAML("keep", `["user.*"]`, 4, ""))
	for i := 0; i < 3; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("o-%d", i), []byte(`{}`), nil)
	}
	pending := func() uint64 {
		t.Helper()
		c, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "legacy")
		if err != nil {
			t.Fatalf("the kept consumer: %v", err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// A pull the stopped dispatcher left may have taken some: they
		// wait out the ack wait, in the consumer still.
		return info.NumPending + uint64(info.NumAckPending)
	}
	testutil.WaitFor(t, 5*time.Second, "the backlog in the kept consumer", func() bool { return pending() == 3 })

	body := fmt.Sprintf(`{"name":"legacy","events":["order.*"],"webhook":{"url":"%s/legacy","secrets":[%q],"allow_private_networks":true,"tls":{"ca_file":%q}}}`,
		rc.Server.URL, secret, rc.CAFile)
	var res map[string]any
	code := apiJSON(t, g, "POST", "/v1/sinks", body, &res)
	msg, _ := res["error"].(string)
	if code != 409 || !strings.Contains(msg, "removed config-file sink") || !strings.Contains(msg, "--prune") {
		t.Fatalf("create over a kept backlog: %d %v", code, res)
	}
	if n := pending(); n != 3 {
		t.Fatalf("backlog after the refused create: %d, want 3", n)
	}
	if len(rc.Hits("legacy")) != 0 {
		t.Fatal("the kept backlog was delivered")
	}

	// A reload with --prune frees the name, though the sink was removed
	// by an earlier reload.
	if _, err := g.Reload(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "legacy"); err == nil {
		t.Fatal("a reload with --prune kept the removed sink's consumer")
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, &res); code != 201 {
		t.Fatalf("create after the prune: %d %v", code, res)
	}
}

// A sink deleted and created again under its name is another sink: its
// attempt log (GET /v1/attempts?sink=) and its metric series start empty.
// Both were the old sink's: the log is kept by name, and the series
// stayed in the registry.
func TestRecreatedSinkStartsWithoutTheOldAttemptsAndSeries(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	body := fmt.Sprintf(`{"name":"x","events":["order.*"],"webhook":{"url":"%s/x","secrets":[%q],"allow_private_networks":true,"tls":{"ca_file":%q}}}`,
		rc.Server.URL, secret, rc.CAFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for i := 0; i < 3; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("o-%d", i), []byte(`{}`), nil)
	}
	var recs []map[string]any
	testutil.WaitFor(t, 10*time.Second, "the old sink's attempts logged", func() bool {
		apiJSON(t, g, "GET", "/v1/attempts?sink=x", "", &recs)
		return len(recs) == 3
	})
	testutil.WaitFor(t, 5*time.Second, "the first sink's deliveries counted", func() bool { return len(countedOf(t, g, "x")) >= 3 })
	if code := apiJSON(t, g, "DELETE", "/v1/sinks/x", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
		t.Fatalf("create again: %d", code)
	}
	if code := apiJSON(t, g, "GET", "/v1/attempts?sink=x", "", &recs); code != 200 || len(recs) != 0 {
		t.Errorf("the new sink's attempts: %d %v, want none", code, recs)
	}
	if left := countedOf(t, g, "x"); len(left) > 0 {
		t.Errorf("the new sink starts with the old one's counts in %v", left)
	}
	// Its own attempts are its own.
	gatewaytest.Publish(t, g, "order.created", "o-new", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the new sink's attempt logged", func() bool {
		apiJSON(t, g, "GET", "/v1/attempts?sink=x", "", &recs)
		return len(recs) == 1 && recs[0]["event_id"] == "o-new"
	})
}

// A consumer that a replica still applying a deleted API sink made again
// after the delete is that sink's (its incarnation says so), not a kept
// file sink's: a create of the name cleans it rather than refusing.
func TestAPICreateCleansADeletedAPISinksLateConsumer(t *testing.T) {
	g, _ := gatewaytest.Run(t, gatewaytest.Options{})
	body := `{"name":"y","events":["order.*"],"webhook":{"url":"https://example.com/y"}}`
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := apiJSON(t, g, "DELETE", "/v1/sinks/y", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	// As the lagging replica would make it: after the tombstone.
	_, err := g.Bus().JS.CreateConsumer(context.Background(), "EVENTS", jetstream.ConsumerConfig{
		Durable: "y", Description: "Switchyard sink y", FilterSubjects: []string{"events.order.*"}, AckPolicy: jetstream.AckExplicitPolicy,
		Metadata: map[string]string{bus.MetaIncarnation: "api-0123456789abcdef01234567"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, &res); code != 201 {
		t.Fatalf("create again: %d %v", code, res)
	}
}
