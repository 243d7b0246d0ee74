package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// pastStored is a time after every event the gateway's stream holds, and
// before any stored later: the clock has passed the last one's
// timestamp, so a replay range may start or end there.
func pastStored(t *testing.T, g *gateway.Gateway) time.Time {
	t.Helper()
	s, err := g.Bus().JS.Stream(t.Context(), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastTime
	testutil.WaitFor(t, time.Second, "the clock past the last stored event", func() bool { return time.Now().After(last) })
	return time.Now()
}

func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// A replay re-delivers exactly the events of its range, to its sink only,
// while live traffic keeps flowing to every sink, once.
func TestReplayDeliversTheRangeToOneSinkDuringLiveTraffic(t *testing.T) {
	forEachDelivery(t, testReplayDeliversTheRangeToOneSinkDuringLiveTraffic)
}

func testReplayDeliversTheRangeToOneSinkDuringLiveTraffic(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("a", `[">"]`, 4, delivery) + rc.SinkYAML("b", `[">"]`, 4, delivery)})
	batch := func(prefix string, n int, typ string) {
		for i := 0; i < n; i++ {
			gatewaytest.Publish(t, g, typ, fmt.Sprintf("%s%d", prefix, i), []byte(`{}`), nil)
		}
	}
	batch("before", 10, "order.created")
	since := pastStored(t, g)
	batch("inrange", 10, "order.created")
	batch("othertype", 5, "user.signup")
	until := pastStored(t, g)
	batch("after", 10, "order.created")
	testutil.WaitFor(t, 10*time.Second, "first deliveries", func() bool { return len(rc.Hits("a")) == 35 && len(rc.Hits("b")) == 35 })

	var st gatewayapi.ReplayStatus
	code := postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", gatewayapi.ReplayRequest{Since: since, Until: until, Types: []string{"order.*"}}, &st)
	if code != 202 || st.ID == "" || st.Total == 0 {
		t.Fatalf("start replay: %d %+v", code, st)
	}
	batch("live", 20, "order.created") // during the replay
	testutil.WaitFor(t, 15*time.Second, "the replay to finish", func() bool {
		adminDo(t, g, "GET", "/v1/replays/"+st.ID, &st)
		return st.State != "running"
	})
	if st.State != "done" || st.Done != st.Total {
		t.Errorf("replay status %+v", st)
	}
	testutil.WaitFor(t, 10*time.Second, "live events everywhere", func() bool { return len(rc.Hits("a")) >= 65 && len(rc.Hits("b")) >= 55 })
	// The replay is done (every event of it settled) and the live events
	// are all in: a duplicate now could only be a straggler of a
	// delivery already made, back within a loopback round trip; 300ms is
	// many of those.
	testutil.Holds(t, 300*time.Millisecond, "no delivery beyond the 65 and 55 expected", func() bool {
		return len(rc.Hits("a")) <= 65 && len(rc.Hits("b")) <= 55
	})
	count := func(sink string) map[string]int {
		c := map[string]int{}
		for _, h := range rc.Hits(sink) {
			c[h.ID]++
		}
		return c
	}
	a, b := count("a"), count("b")
	for id, n := range a {
		want := 1
		if strings.HasPrefix(id, "inrange") {
			want = 2
		}
		if n != want {
			t.Errorf("sink a got %s %d times, want %d", id, n, want)
		}
	}
	for id, n := range b {
		if n != 1 {
			t.Errorf("sink b got %s %d times; the replay was for sink a only", id, n)
		}
	}
	if len(a) != 55 || len(b) != 55 {
		t.Errorf("distinct events: a %d, b %d, want 55 each", len(a), len(b))
	}
	t.Logf("replay %s: %d events in range, state %s, %.0f events/s", st.ID, st.Total, st.State, st.Rate)
}

func TestReplayCancel(t *testing.T) { forEachDelivery(t, testReplayCancel) }

func testReplayCancel(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("", 50*time.Millisecond)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: strings.Replace(rc.SinkYAML("a", `[">"]`, 4, delivery), "concurrency: 4", "concurrency: 1", 1)})
	since := time.Now()
	for i := 0; i < 40; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("c%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "first deliveries", func() bool { return len(rc.Hits("a")) == 40 })
	var st gatewayapi.ReplayStatus
	postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", gatewayapi.ReplayRequest{Since: since}, &st)
	testutil.WaitFor(t, 10*time.Second, "the replay under way", func() bool { return len(rc.Hits("a")) > 40 })
	if code := adminDo(t, g, "DELETE", "/v1/replays/"+st.ID, &st); code != 200 || st.State != "canceled" {
		t.Fatalf("cancel: %d %+v", code, st)
	}
	n := len(rc.Hits("a"))
	// The receiver takes 50ms an answer at concurrency 1: in 400ms a
	// replay still running would deliver 8 more, not 2.
	testutil.Holds(t, 400*time.Millisecond, "at most 2 deliveries after the cancel", func() bool { return len(rc.Hits("a")) <= n+2 })
	if m := len(rc.Hits("a")); m > n+2 {
		t.Errorf("deliveries went on after cancel: %d → %d", n, m)
	}
	if code := postJSON(t, "http://"+g.AdminAddr()+"/v1/sinks/a/replay", map[string]string{}, nil); code != 400 {
		t.Errorf("replay without since: %d", code)
	}
}
