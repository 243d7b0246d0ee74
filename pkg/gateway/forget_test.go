package gateway_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// seriesOf gathers the gateway's registry and returns the metric names
// that have at least one series labelled sink=name.
func seriesOf(t *testing.T, g *gateway.Gateway, name string) []string {
	t.Helper()
	mfs, err := g.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" && l.GetValue() == name {
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
	rc := newReceiver(t)
	dir := t.TempDir()
	g, _ := startGatewayWith(t, dir, apiTop, rc.sinkYAML("keep", `[">"]`, "")+rc.sinkYAML("gone", `[">"]`, ""))
	body := fmt.Sprintf(`{"name":"viaapi","events":[">"],"webhook":{"url":"%s/viaapi","secrets":[%q],"allow_private_networks":true,"tls":{"ca_file":%q}}}`,
		rc.srv.URL, secret, rc.caFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	publish(t, g, "order.created", "o-1", []byte(`{}`), nil)
	for _, s := range []string{"keep", "gone", "viaapi"} {
		waitFor(t, 10*time.Second, "delivery to "+s, func() bool { return len(rc.hitsFor(s)) == 1 })
	}
	// The counters are bumped after the receiver answers: wait for them.
	waitFor(t, 5*time.Second, "every sink's delivery counted", func() bool {
		for _, s := range []string{"keep", "gone", "viaapi"} {
			if len(seriesOf(t, g, s)) < 5 {
				return false
			}
		}
		return true
	})
	before := seriesOf(t, g, "keep")

	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n%s\nsinks:", dir, apiTop)
	cfg, err := config.Parse("r.yaml", []byte(base+rc.sinkYAML("keep", `[">"]`, "")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := g.Reload(context.Background(), cfg, false); err != nil || len(plan.Removed) != 1 {
		t.Fatalf("reload: %+v %v", plan, err)
	}
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
