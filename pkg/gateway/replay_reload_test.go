package gateway_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// A reload that rebuilds a sink hands its running replay to the new
// dispatcher: the replay completes, every event of its range replayed.
func TestReloadMidReplayHandsTheReplayOver(t *testing.T) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("", 20*time.Millisecond)
	dir := t.TempDir()
	sinkFor := func(conc int) string {
		return strings.Replace(rc.SinkYAML("a", `[">"]`, 4, ""), "concurrency: 4", fmt.Sprintf("concurrency: %d", conc), 1)
	}
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinkFor(2)})
	const n = 300
	since := time.Now()
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("e%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 30*time.Second, "first deliveries", func() bool { return len(rc.Hits("a")) == n })

	var st gatewayapi.ReplayStatus
	if code := postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", gatewayapi.ReplayRequest{Since: since}, &st); code != 202 || st.Total != n {
		t.Fatalf("start replay: %d %+v", code, st)
	}
	testutil.WaitFor(t, 10*time.Second, "the replay under way", func() bool { return len(rc.Hits("a")) >= n+30 })
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\nsinks:", dir)
	cfg, err := config.Parse("reload.yaml", []byte(base+sinkFor(3)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := g.Reload(context.Background(), cfg, false); err != nil || len(plan.Changed) != 1 {
		t.Fatalf("reload: %+v %v", plan, err)
	}
	if len(rc.Hits("a")) >= 2*n {
		t.Fatal("the replay finished before the reload; the test proves nothing")
	}
	testutil.WaitFor(t, 20*time.Second, "the replay to end", func() bool {
		adminDo(t, g, "GET", "/v1/replays/"+st.ID, &st)
		return st.State != "running"
	})
	if st.State != "done" || st.Done != n || st.Total != n {
		t.Errorf("replay after the reload: %+v", st)
	}
	count := map[string]int{}
	for _, h := range rc.Hits("a") {
		count[h.ID]++
	}
	for i := 0; i < n; i++ {
		if id := fmt.Sprintf("e%d", i); count[id] < 2 {
			t.Errorf("%s delivered %d times, want the original and its replay", id, count[id])
		}
	}
}

// A reload that removes the sink ends its replay, saying why.
func TestReloadRemovingTheSinkEndsItsReplay(t *testing.T) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("", 20*time.Millisecond)
	dir := t.TempDir()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("a", `[">"]`, 4, "") + rc.SinkYAML("b", `[">"]`, 4, "")})
	since := time.Now()
	for i := 0; i < 200; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("e%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 30*time.Second, "first deliveries", func() bool { return len(rc.Hits("a")) == 200 })
	var st gatewayapi.ReplayStatus
	postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", gatewayapi.ReplayRequest{Since: since}, &st)
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\nsinks:", dir)
	cfg, err := config.Parse("reload.yaml", []byte(base+rc.SinkYAML("b", `[">"]`, 4, "")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reload(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the replay to end", func() bool {
		adminDo(t, g, "GET", "/v1/replays/"+st.ID, &st)
		return st.State != "running"
	})
	if st.State != "canceled" || !strings.Contains(st.Error, "removed") {
		t.Errorf("replay of a removed sink: %+v", st)
	}
}

// Finished replays are kept a while for their outcome, then dropped, and
// never more than a bounded number.
func TestFinishedReplaysArePruned(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("a", `[">"]`, 4, "")})
	gateway.SetReplayRetention(g, time.Hour, 2)
	since := time.Now()
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("e%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "first deliveries", func() bool { return len(rc.Hits("a")) == 5 })
	var ids []string
	for i := 0; i < 3; i++ {
		var st gatewayapi.ReplayStatus
		postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", gatewayapi.ReplayRequest{Since: since}, &st)
		testutil.WaitFor(t, 10*time.Second, "a replay to finish", func() bool {
			adminDo(t, g, "GET", "/v1/replays/"+st.ID, &st)
			return st.State != "running"
		})
		ids = append(ids, st.ID)
		// The next one ends strictly later: the newest two are known.
		testutil.WaitFor(t, time.Second, "the clock past the replay's end", func() bool { return time.Now().After(*st.Finished) })
	}
	var list []gatewayapi.ReplayStatus
	adminDo(t, g, "GET", "/v1/replays", &list)
	if len(list) != 2 {
		t.Errorf("%d finished replays listed, want the newest 2: %+v", len(list), list)
	}
	if code := adminDo(t, g, "GET", "/v1/replays/"+ids[0], nil); code != 404 {
		t.Errorf("the oldest finished replay: %d, want 404 (pruned)", code)
	}
	gateway.SetReplayRetention(g, 100*time.Millisecond, 2)
	for _, st := range list {
		testutil.WaitFor(t, time.Second, "the retention of replay "+st.ID+" over", func() bool { return st.Finished == nil || time.Since(*st.Finished) > 100*time.Millisecond })
	}
	adminDo(t, g, "GET", "/v1/replays", &list)
	if len(list) != 0 {
		t.Errorf("%d replays listed past their retention: %+v", len(list), list)
	}
}
