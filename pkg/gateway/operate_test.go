package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

func sinkState(t *testing.T, adminDoer func(string, string, any) int) string {
	var sinks []gatewayapi.SinkStatus
	adminDoer("GET", "/v1/sinks", &sinks)
	return sinks[0].State
}

func TestPauseSurvivesRestartAndResumeDrains(t *testing.T) {
	forEachDelivery(t, testPauseSurvivesRestartAndResumeDrains)
}

func testPauseSurvivesRestartAndResumeDrains(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	sinks := rc.SinkYAML("s", `[">"]`, 4, delivery)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	do := func(m, p string, out any) int { return adminDo(t, g, m, p, out) }
	if code := do("POST", "/v1/sinks/s/pause", nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	if st := sinkState(t, do); st != "paused" {
		t.Fatalf("state %q", st)
	}
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("p%d", i), []byte(`{}`), nil)
	}
	// A running sink delivers these within milliseconds: 500ms of
	// silence shows the pause holds them.
	testutil.Holds(t, 500*time.Millisecond, "no delivery while paused", func() bool { return len(rc.Hits("s")) == 0 })
	if n := len(rc.Hits("s")); n != 0 {
		t.Fatalf("%d deliveries while paused", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	g, _ = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	do = func(m, p string, out any) int { return adminDo(t, g, m, p, out) }
	if st := sinkState(t, do); st != "paused" {
		t.Fatalf("after restart: state %q, want paused", st)
	}
	if !isShared(delivery) {
		info, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "s")
		if err != nil {
			t.Fatal(err)
		}
		if ci, _ := info.Info(context.Background()); !ci.Paused {
			t.Error("the JetStream consumer is not paused after restart")
		}
	} else {
		// A shared sink has no consumer to pause: its records wait in the
		// deliveries stream, parked, and nothing is offered to it.
		if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", "s"); err == nil {
			t.Error("the shared sink has a consumer of its own")
		}
		testutil.WaitFor(t, 5*time.Second, "the 5 records waiting in the deliveries stream", func() bool {
			return deliveryRecords(t, g) == 5
		})
	}
	// As above: 500ms is ample for a wrongly resumed sink to deliver.
	testutil.Holds(t, 500*time.Millisecond, "no delivery while paused after restart", func() bool { return len(rc.Hits("s")) == 0 })
	if n := len(rc.Hits("s")); n != 0 {
		t.Fatalf("%d deliveries while paused after restart", n)
	}
	var status []gatewayapi.SinkStatus
	do("GET", "/v1/sinks", &status)
	if status[0].Pending != 5 || status[0].OldestPendingSeconds < 0.5 {
		t.Errorf("while paused: pending %d, oldest %.2fs; want 5 and at least 0.5s", status[0].Pending, status[0].OldestPendingSeconds)
	}
	if code := do("POST", "/v1/sinks/s/resume", nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	testutil.WaitFor(t, 10*time.Second, "the backlog to drain on resume", func() bool { return len(rc.Hits("s")) == 5 })
}

// An endpoint down for a while: the breaker opens, holds events back
// (no attempts, no dead letters), probes, and everything arrives once it
// is back. State changes are published on NATS.
func TestBreakerHoldsEventsWhileEndpointIsDown(t *testing.T) {
	forEachDelivery(t, testBreakerHoldsEventsWhileEndpointIsDown)
}

func testBreakerHoldsEventsWhileEndpointIsDown(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	var mu sync.Mutex
	down := true
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(503)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4,
		delivery+"    retry: {schedule: [100ms, 100ms, 100ms, 100ms, 100ms], jitter: 0}\n    breaker: {consecutive_failures: 3, cool_down: 700ms}\n")})
	var states []dispatch.StateEvent
	var smu sync.Mutex
	sub, err := g.Bus().Conn.Subscribe(dispatch.StateSubject("s"), func(m *nats.Msg) {
		var ev dispatch.StateEvent
		_ = json.Unmarshal(m.Data, &ev)
		smu.Lock()
		states = append(states, ev)
		smu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	const n = 20
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("b%d", i), []byte(`{}`), nil)
	}
	// Down for 2500ms: without the breaker every event would have spent
	// its schedule (five 100ms retries) and be dead many times over; with
	// it, none is dead-lettered meanwhile.
	testutil.Holds(t, 2500*time.Millisecond, "no dead letter while the endpoint is down", func() bool {
		var recs []deadletter.Record
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 0
	})
	mu.Lock()
	down = false
	mu.Unlock()
	testutil.WaitFor(t, 15*time.Second, "every event after recovery", func() bool {
		ok := map[string]bool{}
		for _, h := range rc.Hits("s") {
			ok[h.ID] = true
		}
		return len(ok) == n && g.Ready(context.Background()) == nil
	})
	var recs []deadletter.Record
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
	if len(recs) != 0 {
		t.Errorf("%d dead letters; the breaker should have held the events back", len(recs))
	}
	failedRequests := 0
	for _, h := range rc.Hits("s") {
		_ = h
		failedRequests++
	}
	failedRequests -= n
	// 6 attempts each for 20 events would be 120 failed requests without
	// the breaker; with it, 3 to open and about one probe per cool-down.
	if failedRequests > 15 {
		t.Errorf("%d failed requests while down: the breaker did not hold back", failedRequests)
	}
	smu.Lock()
	defer smu.Unlock()
	var seen []string
	for _, s := range states {
		seen = append(seen, string(s.To))
	}
	joined := strings.Join(seen, ",")
	if !strings.Contains(joined, "open") || !strings.HasSuffix(joined, "running") {
		t.Errorf("state events %v: want open … running", seen)
	}
	t.Logf("failed requests while down: %d; state events: %v", failedRequests, seen)
}

func TestRateLimitHolds(t *testing.T) { forEachDelivery(t, testRateLimitHolds) }

func testRateLimitHolds(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    rate_limit: 40/s\n    rate_limit_burst: 1\n")})
	const n = 100
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("r%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 20*time.Second, "all events", func() bool { return len(rc.Hits("s")) == n })
	hits := rc.Hits("s")
	span := hits[n-1].At.Sub(hits[0].At)
	rate := float64(n-1) / span.Seconds()
	t.Logf("%d deliveries in %s: %.1f/s (limit 40/s)", n, span.Round(time.Millisecond), rate)
	if rate < 36 || rate > 44 {
		t.Errorf("measured %.1f/s, want 40/s ± 10%%", rate)
	}
}

func TestWebhookDeliveryHeader(t *testing.T) { forEachDelivery(t, testWebhookDeliveryHeader) }

func testWebhookDeliveryHeader(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		switch id {
		case "abort":
			w.Header().Set("webhook-delivery", "abort-message")
			w.WriteHeader(422)
		case "stop":
			w.Header().Set("webhook-delivery", "disable")
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery)})
	gatewaytest.Publish(t, g, "order.completed", "abort", []byte(`{}`), nil)
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "abort-message dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if !strings.Contains(recs[0].Reason, "abort-message") || recs[0].Attempts != 1 {
		t.Errorf("dead letter %+v", recs[0])
	}
	gatewaytest.Publish(t, g, "order.completed", "stop", []byte(`{}`), nil)
	do := func(m, p string, out any) int { return adminDo(t, g, m, p, out) }
	testutil.WaitFor(t, 10*time.Second, "the sink to pause", func() bool { return sinkState(t, do) == "paused" })
	gatewaytest.Publish(t, g, "order.completed", "held", []byte(`{}`), nil)
	// A sink that ignored the disable would deliver "held" within
	// milliseconds: 400ms of silence shows it holds.
	testutil.Holds(t, 400*time.Millisecond, `"held" not delivered while disabled`, func() bool {
		for _, h := range rc.Hits("s") {
			if h.ID == "held" {
				return false
			}
		}
		return true
	})
	for _, h := range rc.Hits("s") {
		if h.ID == "held" {
			t.Fatal("delivered while disabled by the receiver")
		}
	}
	adminDo(t, g, "POST", "/v1/sinks/s/resume", nil)
	testutil.WaitFor(t, 10*time.Second, "the held event after resume", func() bool {
		for _, h := range rc.Hits("s") {
			if h.ID == "held" {
				return true
			}
		}
		return false
	})
}

// answerGone is a receiver's answer for an endpoint that is gone.
func answerGone(w http.ResponseWriter, _, _ string, _ int) { w.WriteHeader(http.StatusGone) }

func TestDeadLettersInBulk(t *testing.T) { forEachDelivery(t, testDeadLettersInBulk) }

func testDeadLettersInBulk(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(answerGone)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    breaker: {enabled: false}\n")})
	for i := 0; i < 3; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("o%d", i), []byte(`{}`), nil)
		gatewaytest.Publish(t, g, "user.signup", fmt.Sprintf("u%d", i), []byte(`{}`), nil)
	}
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "6 dead letters", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 6
	})
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?type=order.*", &recs)
	if len(recs) != 3 || recs[0].Type != "order.created" {
		t.Errorf("type filter: %+v", recs)
	}
	var all []deadletter.Record
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &all)
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?limit=2&offset=1", &recs)
	if len(recs) != 2 || recs[0].Seq != all[1].Seq || recs[1].Seq != all[2].Seq {
		t.Errorf("paging: got %+v of %+v", recs, all)
	}
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?reason=410&since="+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), &recs)
	if len(recs) != 6 {
		t.Errorf("reason+since filter: %d", len(recs))
	}
	if code := adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?since=yesterday", nil); code != 400 {
		t.Errorf("bad since: %d", code)
	}

	rc.SetAnswer(nil) // the endpoint is back: 200
	var res map[string]int
	adminDo(t, g, "POST", "/v1/sinks/s/dead-letters/redrive?type=user.>", &res)
	if res["redriven"] != 3 {
		t.Fatalf("redrive subset: %v", res)
	}
	testutil.WaitFor(t, 10*time.Second, "the redriven subset", func() bool {
		n := 0
		for _, h := range rc.Hits("s") {
			if strings.HasPrefix(h.ID, "u") {
				n++
			}
		}
		return n == 6 // one 410 and one redriven delivery each
	})
	adminDo(t, g, "DELETE", "/v1/sinks/s/dead-letters", &res)
	if res["deleted"] != 3 {
		t.Errorf("purge: %v", res)
	}
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
	if len(recs) != 0 {
		t.Errorf("%d left after purge", len(recs))
	}
}

// A tenant's dead letters carry the event's type (not tenants.<t>.<type>)
// and the tenant apart: ?type= finds them, ?tenant= tells tenants apart,
// and a redrive by type and tenant redrives that tenant's alone.
func TestTenantDeadLettersByTypeAndTenant(t *testing.T) {
	forEachDelivery(t, testTenantDeadLettersByTypeAndTenant)
}

func testTenantDeadLettersByTypeAndTenant(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(answerGone)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "    tenant: \"*\"\n    breaker: {enabled: false}\n")})
	for id, subj := range map[string]string{"a1": "tenants.acme.order.created", "g1": "tenants.globex.order.created", "u1": "events.order.created"} {
		m := nats.NewMsg(subj)
		m.Header.Set("Nats-Msg-Id", id)
		m.Data = []byte(`{}`)
		if _, err := g.Bus().JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "3 dead letters", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 3
	})
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?type=order.created", &recs)
	if len(recs) != 3 {
		t.Errorf("?type=order.created: %d records, want 3: %+v", len(recs), recs)
	}
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?type=order.created&tenant=acme", &recs)
	if len(recs) != 1 || recs[0].ID != "a1" || recs[0].Type != "order.created" || recs[0].Tenant != "acme" {
		t.Errorf("?type=order.created&tenant=acme: %+v", recs)
	}
	if code := adminDo(t, g, "GET", "/v1/sinks/s/dead-letters?tenant=a.b", nil); code != 400 {
		t.Errorf("?tenant=a.b: %d, want 400", code)
	}

	rc.SetAnswer(nil) // the endpoint is back: 200
	var res map[string]int
	adminDo(t, g, "POST", "/v1/sinks/s/dead-letters/redrive?type=order.created&tenant=acme", &res)
	if res["redriven"] != 1 {
		t.Fatalf("redrive by type and tenant: %v", res)
	}
	testutil.WaitFor(t, 10*time.Second, "a1 redriven (its second delivery)", func() bool {
		n := 0
		for _, h := range rc.Hits("s") {
			if h.ID == "a1" {
				n++
			}
		}
		return n == 2
	})
}
