package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

func TestFanOutToOverlappingSinks(t *testing.T) { forEachDelivery(t, testFanOutToOverlappingSinks) }

func testFanOutToOverlappingSinks(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("a", `["order.*"]`, 4, delivery) + rc.SinkYAML("b", `["order.completed", "invoice.>"]`, 4, delivery)})
	for i := 0; i < 20; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("c%d", i), []byte(`{"n":1}`), nil)
	}
	for i := 0; i < 10; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("r%d", i), []byte(`{"n":2}`), nil)
	}
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "user.signup", fmt.Sprintf("u%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "30 deliveries to a and 20 to b", func() bool {
		return len(rc.Hits("a")) >= 30 && len(rc.Hits("b")) >= 20
	})
	// Room for a wrong extra delivery to show up: a duplicate fan-out
	// would be sent in the same batch as the right one, well within 300ms.
	testutil.Holds(t, 300*time.Millisecond, "no delivery beyond 30 to a and 20 to b", func() bool {
		return len(rc.Hits("a")) == 30 && len(rc.Hits("b")) == 20
	})
	for sinkName, want := range map[string]int{"a": 30, "b": 20} {
		hits := rc.Hits(sinkName)
		seen := map[string]int{}
		for _, h := range hits {
			seen[h.ID]++
			if !h.Valid {
				t.Errorf("sink %s: invalid signature on %s", sinkName, h.ID)
			}
			if strings.HasPrefix(h.ID, "u") {
				t.Errorf("sink %s got non-matching event %s", sinkName, h.ID)
			}
			if sinkName == "b" && strings.HasPrefix(h.ID, "r") {
				t.Errorf("sink b got order.created %s", h.ID)
			}
		}
		if len(hits) != want || len(seen) != want {
			t.Errorf("sink %s: %d requests for %d distinct events, want exactly %d once each", sinkName, len(hits), len(seen), want)
		}
	}
}

func TestDeadEndpointDoesNotSlowHealthySink(t *testing.T) {
	forEachDelivery(t, testDeadEndpointDoesNotSlowHealthySink)
}

func testDeadEndpointDoesNotSlowHealthySink(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	release := make(chan struct{})
	defer close(release)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if sink == "dead" {
			select { // hang until the gateway's 2s timeout gives up
			case <-release:
			case <-time.After(3 * time.Second):
			}
			w.WriteHeader(503)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("dead", `[">"]`, 4, delivery) + rc.SinkYAML("healthy", `[">"]`, 4, delivery)})
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("e%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 20*time.Second, "healthy sink to get every event", func() bool { return len(rc.Hits("healthy")) >= n })
	elapsed := time.Since(start)
	// The dead sink's 4 workers are all stuck in 2s timeouts for this
	// whole time; the healthy one must not wait behind them.
	if elapsed > 5*time.Second {
		t.Errorf("healthy sink took %s for %d events next to a dead one", elapsed, n)
	}
	if d := len(rc.Hits("dead")); d > 12 {
		t.Errorf("dead sink got %d requests in %s with concurrency 4 and a 2s timeout", d, elapsed)
	}
}

func TestRetriesFollowSchedule(t *testing.T) { forEachDelivery(t, testRetriesFollowSchedule) }

func testRetriesFollowSchedule(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if n <= 2 {
			w.WriteHeader(500)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: [300ms, 700ms, 5s], jitter: 0}\n")})
	gatewaytest.Publish(t, g, "order.completed", "r1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "third attempt", func() bool { return len(rc.Hits("s")) >= 3 })
	hits := rc.Hits("s")
	for i, want := range []time.Duration{300 * time.Millisecond, 700 * time.Millisecond} {
		gap := hits[i+1].At.Sub(hits[i].At)
		if gap < want || gap > want+500*time.Millisecond {
			t.Errorf("gap before attempt %d = %s, want %s (+ up to 500ms)", i+2, gap, want)
		}
		t.Logf("gap before attempt %d: %s (schedule %s)", i+2, gap, want)
	}
	// 300ms is the first gap of the schedule: a retry after the success
	// would be on its way by then.
	testutil.Holds(t, 300*time.Millisecond, "no attempt after the successful third", func() bool {
		return len(rc.Hits("s")) == 3
	})
	if n := len(rc.Hits("s")); n != 3 {
		t.Errorf("%d attempts, want 3 (success on the third)", n)
	}
	for _, h := range hits {
		if h.ID != "r1" {
			t.Errorf("webhook-id changed across retries: %q", h.ID)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) { forEachDelivery(t, testRetryAfterIsHonoured) }

func testRetryAfterIsHonoured(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: [50ms, 50ms], jitter: 0}\n")})
	gatewaytest.Publish(t, g, "order.completed", "ra", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "second attempt", func() bool { return len(rc.Hits("s")) >= 2 })
	hits := rc.Hits("s")
	// A shared sink's wait is a message schedule, fired up to 250ms late
	// (nats-server's schedule tick): within the same bound.
	gap := hits[1].At.Sub(hits[0].At)
	if gap < 2*time.Second || gap > 3*time.Second {
		t.Errorf("gap after Retry-After: 2 = %s, want about 2s", gap)
	}
	t.Logf("gap after Retry-After: 2 = %s", gap)
}

func TestGoneDeadLettersAtOnceAndRedriveDeliversToThatSinkOnly(t *testing.T) {
	forEachDelivery(t, testGoneDeadLettersAtOnceAndRedriveDeliversToThatSinkOnly)
}

func testGoneDeadLettersAtOnceAndRedriveDeliversToThatSinkOnly(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	var mu sync.Mutex // what the answer reads
	gone := true
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if sink == "s" && gone {
			w.WriteHeader(410)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery) + rc.SinkYAML("other", `[">"]`, 4, delivery)})
	gatewaytest.Publish(t, g, "order.completed", "g1", []byte(`{"total":42}`), nil)

	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	r := recs[0]
	if r.ID != "g1" || r.Type != "order.completed" || r.Status != 410 || r.Attempts != 1 ||
		!strings.Contains(r.Reason, "410") || string(r.Data) != `{"total":42}` {
		t.Errorf("dead letter = %+v", r)
	}
	if n := len(rc.Hits("s")); n != 1 {
		t.Errorf("410 got %d attempts, want 1", n)
	}

	mu.Lock()
	gone = false
	mu.Unlock()
	redriveOne(t, g, "s")
	testutil.WaitFor(t, 10*time.Second, "redriven delivery", func() bool { return len(rc.Hits("s")) == 2 })
	if h := rc.Hits("s")[1]; h.ID != "g1" || !h.Valid {
		t.Errorf("redriven delivery: id %q valid %v", h.ID, h.Valid)
	}
	// A redrive that leaked to the other sink would reach it right behind
	// the redriven delivery to s: 300ms is ample for that.
	testutil.Holds(t, 300*time.Millisecond, "one delivery to the other sink", func() bool {
		return len(rc.Hits("other")) == 1
	})
	if n := len(rc.Hits("other")); n != 1 {
		t.Errorf("other sink got %d deliveries; the redrive must reach sink s only", n)
	}
	adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
	if len(recs) != 0 {
		t.Errorf("dead letters after redrive: %d", len(recs))
	}
}

func TestLastAttemptDeadLetters(t *testing.T) { forEachDelivery(t, testLastAttemptDeadLetters) }

func testLastAttemptDeadLetters(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) { w.WriteHeader(500) })
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: [50ms, 50ms], jitter: 0}\n")})
	gatewaytest.Publish(t, g, "order.completed", "x1", []byte(`{}`), nil)
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if recs[0].Attempts != 3 || recs[0].Status != 500 || !strings.Contains(recs[0].Reason, "gave up after 3 attempts") {
		t.Errorf("dead letter = %+v", recs[0])
	}
	if n := len(rc.Hits("s")); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestSSRFRefusalIsDeadLetteredWithReason(t *testing.T) {
	rc := testutil.NewReceiver(t)
	extra := ""
	sinkYAML := strings.Replace(rc.SinkYAML("s", `[">"]`, 4, extra), "allow_private_networks: true", "allow_private_networks: false", 1)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: sinkYAML})
	gatewaytest.Publish(t, g, "order.completed", "ssrf1", []byte(`{}`), nil)
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if !strings.Contains(recs[0].Reason, "ssrf guard: refused to connect to 127.0.0.1") {
		t.Errorf("reason = %q", recs[0].Reason)
	}
	if n := len(rc.Hits("s")); n != 0 {
		t.Errorf("receiver got %d requests through the guard", n)
	}
}

func TestMalformedEventIsDeadLetteredNotDropped(t *testing.T) {
	forEachDelivery(t, testMalformedEventIsDeadLetteredNotDropped)
}

func testMalformedEventIsDeadLetteredNotDropped(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery)})
	gatewaytest.Publish(t, g, "order.completed", "bad1", []byte("\xff\x00raw"), map[string]string{"ce-time": "yesterday"})
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	r := recs[0]
	if r.ID != "bad1" || !strings.Contains(r.Reason, "not RFC 3339") || string(r.DataBase64) != "\xff\x00raw" || r.DataEncoding != "base64" {
		t.Errorf("dead letter = %+v", r)
	}
}

func TestShutdownMidFlightLosesNothing(t *testing.T) {
	forEachDelivery(t, testShutdownMidFlightLosesNothing)
}

func testShutdownMidFlightLosesNothing(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	rc.SetDelay("", 1500*time.Millisecond) // outlives the test's grace (500ms below)
	sinks := rc.SinkYAML("s", `[">"]`, 4, delivery)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: strings.Replace(sinks, "concurrency: 4", "concurrency: 2", 1)})
	for i := 0; i < 10; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("m%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 5*time.Second, "deliveries in flight", func() bool { return len(rc.Hits("s")) >= 2 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %s with a 2s grace", took)
	}
	rc.SetDelay("", 0)
	gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	testutil.WaitFor(t, 15*time.Second, "all 10 events delivered after restart", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("s") {
			seen[h.ID] = true
		}
		return len(seen) == 10
	})
}

func TestAdminAPI(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `["order.*"]`, 4, "")})
	gatewaytest.Publish(t, g, "order.completed", "a1", []byte(`{}`), nil)
	testutil.WaitFor(t, 5*time.Second, "delivery", func() bool { return len(rc.Hits("s")) == 1 })

	resp, err := http.Get("http://" + g.AdminAddr() + "/v1/sinks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + g.AdminAddr() + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	var sinks []gatewayapi.SinkStatus
	testutil.WaitFor(t, 5*time.Second, "ack recorded", func() bool {
		adminDo(t, g, "GET", "/v1/sinks", &sinks)
		return len(sinks) == 1 && sinks[0].AckPending == 0 && sinks[0].LastSuccess != nil
	})
	if sinks[0].Name != "s" || sinks[0].Kind != "webhook" || sinks[0].Pending != 0 || sinks[0].LatencyP99Seconds <= 0 ||
		sinks[0].OldestPendingSeconds != 0 || sinks[0].State != "running" || sinks[0].Delivered != 1 {
		t.Errorf("sinks = %+v", sinks)
	}
	if code := adminDo(t, g, "GET", "/v1/sinks/nope/dead-letters", nil); code != 404 {
		t.Errorf("unknown sink: %d", code)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+g.AdminAddr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`switchyard_deliveries_total{outcome="delivered",sink="s"} 1`, "switchyard_event_latency_seconds_bucket", "switchyard_consumer_pending"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Events waiting out a long retry delay stay ack-pending in JetStream; they
// must not hold back the events behind them.
func TestEventsWaitingForRetryDoNotStallTheSink(t *testing.T) {
	forEachDelivery(t, testEventsWaitingForRetryDoNotStallTheSink)
}

func testEventsWaitingForRetryDoNotStallTheSink(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if strings.HasPrefix(id, "slow") {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(503)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: strings.Replace(rc.SinkYAML("s", `[">"]`, 4, delivery), "concurrency: 4", "concurrency: 2", 1)})
	for i := 0; i < 20; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("slow%d", i), []byte(`{}`), nil)
	}
	for i := 0; i < 50; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("fast%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "the 50 events behind 20 waiting ones", func() bool {
		n := 0
		for _, h := range rc.Hits("s") {
			if strings.HasPrefix(h.ID, "fast") {
				n++
			}
		}
		return n == 50
	})
}

// A message delivered more times than its budget without ever being
// settled (the gateway stopped during each attempt) is dead-lettered with
// that reason, not retried forever and not dropped by MaxDeliver.
func TestUnsettledDeliveriesAreDeadLettered(t *testing.T) {
	forEachDelivery(t, testUnsettledDeliveriesAreDeadLettered)
}

func testUnsettledDeliveriesAreDeadLettered(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("", 3500*time.Millisecond) // outlives the 2s shutdown grace, not the 4s timeout
	dir := t.TempDir()
	sinks := strings.Replace(rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: []}\n    ack_wait: 6s\n    breaker: {enabled: false}\n"),
		"timeout: 2s", "timeout: 4s", 1)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	gatewaytest.Publish(t, g, "order.completed", "u1", []byte(`{}`), nil)
	for round := 1; round <= 2; round++ {
		testutil.WaitFor(t, 10*time.Second, "the attempt in flight", func() bool { return len(rc.Hits("s")) == round })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		g, stop = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	}
	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "the dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if !strings.Contains(recs[0].Reason, "delivered 3 times, beyond the retry budget") || !strings.Contains(recs[0].Reason, "gateway stopped during earlier attempts") {
		t.Errorf("reason %q", recs[0].Reason)
	}
	if n := len(rc.Hits("s")); n != 2 {
		t.Errorf("%d attempts reached the receiver, want 2", n)
	}
}
