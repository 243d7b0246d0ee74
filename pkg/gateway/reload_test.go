package gateway_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Ten reloads while events flow, each changing filters, secrets and
// concurrency: every event reaches every sink whose filters matched it
// both before and after the change, with a valid signature, and nothing
// is lost.
func TestReloadUnderLoad(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	const other = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
	sinksFor := func(i int) string {
		// Sink "all" keeps its filter; its secrets rotate and its
		// concurrency changes. Sink "orders" also gains and loses user.*.
		all := rc.SinkYAML("all", `[">"]`, 4, "")
		orders := rc.SinkYAML("orders", `["order.*"]`, 4, "")
		if i%2 == 1 {
			all = strings.Replace(all, fmt.Sprintf("[%q]", secret), fmt.Sprintf("[%q, %q]", other, secret), 1)
			orders = strings.Replace(orders, `["order.*"]`, `["order.*", "user.*"]`, 1)
		}
		all = strings.Replace(all, "concurrency: 4", fmt.Sprintf("concurrency: %d", 1+i%4), 1)
		return all + orders
	}
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinksFor(0)})
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n\nsinks:", dir)

	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			typ := "order.created"
			if i%3 == 2 {
				typ = "user.signup"
			}
			gatewaytest.Publish(t, g, typ, fmt.Sprintf("%s-%d", typ, i), []byte(`{}`), nil)
			published.Add(1)
			// At most 50 events ahead of sink all's deliveries: the flow
			// goes on through every reload without outrunning the receiver.
			testutil.Poll(10*time.Second, func() bool { return published.Load()-int64(len(rc.Hits("all"))) < 50 })
		}
	}()
	for i := 1; i <= 10; i++ {
		// Each reload lands while events flow: some more published first.
		flowing := published.Load() + 25
		testutil.WaitFor(t, 10*time.Second, "events flowing before the reload", func() bool { return published.Load() >= flowing })
		cfg, err := config.Parse("reload.yaml", []byte(base+sinksFor(i)), os.LookupEnv)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := g.Reload(context.Background(), cfg, false)
		if err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if len(plan.Changed) != 2 {
			t.Errorf("reload %d plan: %+v", i, plan)
		}
	}
	close(stop)
	wg.Wait()
	n := int(published.Load())
	want := func(sink, id string) bool {
		return sink == "all" || strings.HasPrefix(id, "order.")
	}
	testutil.WaitFor(t, 20*time.Second, "every event on every sink that always matched it", func() bool {
		got := map[string]bool{}
		for _, h := range append(rc.Hits("all"), rc.Hits("orders")...) {
			got[h.Sink+"/"+h.ID] = true
		}
		for i := 0; i < n; i++ {
			typ := "order.created"
			if i%3 == 2 {
				typ = "user.signup"
			}
			id := fmt.Sprintf("%s-%d", typ, i)
			for _, s := range []string{"all", "orders"} {
				if want(s, id) && !got[s+"/"+id] {
					return false
				}
			}
		}
		return true
	})
	invalid := 0
	for _, h := range append(rc.Hits("all"), rc.Hits("orders")...) {
		if !h.Valid {
			invalid++
		}
	}
	if invalid > 0 {
		t.Errorf("%d deliveries with an invalid signature", invalid)
	}
	t.Logf("%d events published across 10 reloads; all delivered", n)
}

func TestReloadAddsAndRemovesSinks(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("a", `[">"]`, 4, "")})
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n\nsinks:", dir)
	cfg, err := config.Parse("r.yaml", []byte(base+rc.SinkYAML("b", `[">"]`, 4, "")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := g.Reload(context.Background(), cfg, true)
	if err != nil || len(plan.Added) != 1 || len(plan.Removed) != 1 {
		t.Fatalf("plan %+v, err %v", plan, err)
	}
	gatewaytest.Publish(t, g, "order.created", "after", []byte(`{}`), nil)
	testutil.WaitFor(t, 5*time.Second, "delivery to the new sink", func() bool { return len(rc.Hits("b")) == 1 })
	// "after" reached b; a removed sink still consuming would have had
	// it at the same moment, so 200ms more is ample.
	testutil.Holds(t, 200*time.Millisecond, "no delivery to the removed sink", func() bool { return len(rc.Hits("a")) == 0 })
	if n := len(rc.Hits("a")); n != 0 {
		t.Errorf("removed sink got %d deliveries", n)
	}
	if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "a"); err == nil {
		t.Error("pruned consumer still there")
	}
	bad, err := config.Parse("r.yaml", []byte(strings.Replace(base, "127.0.0.1:0\", token", "127.0.0.1:1\", token", 1)+rc.SinkYAML("b", `[">"]`, 4, "")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	plan, _ = g.Reload(context.Background(), bad, false)
	if len(plan.Restart) != 1 || plan.Restart[0] != "admin" {
		t.Errorf("restart-only change: %+v", plan)
	}
}
