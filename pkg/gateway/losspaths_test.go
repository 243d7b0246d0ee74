package gateway_test

// The loss paths: each test drives one way an accepted event could be
// lost or sent twice (the dead-letter store down, a payload at the size
// limit, a retry schedule shortened by a reload, a consumer deleted or
// lost, a message the rate limiter holds past its AckWait) and requires
// it delivered or dead-lettered, once. Real embedded nats-server, real
// HTTPS receivers.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

func sinkStatus(t *testing.T, g *gateway.Gateway, name string) gatewayapi.SinkStatus {
	t.Helper()
	var all []gatewayapi.SinkStatus
	if code := adminDo(t, g, "GET", "/v1/sinks", &all); code != 200 {
		t.Fatalf("GET /v1/sinks: %d", code)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("sink %s not in /v1/sinks", name)
	return gatewayapi.SinkStatus{}
}

func deadLetters(t *testing.T, g *gateway.Gateway, sink string) []deadletter.Record {
	t.Helper()
	var recs []deadletter.Record
	adminDo(t, g, "GET", "/v1/sinks/"+sink+"/dead-letters", &recs)
	return recs
}

// While the dead-letter stream cannot store, the event is held,
// not retried: the receiver that answered 410 is not asked again, no
// delivery is spent, the sink shows degraded, and the dead letter is
// stored once the stream is back.
func TestDeadLetterStoreOutageHoldsTheEvent(t *testing.T) {
	forEachDelivery(t, testDeadLetterStoreOutageHoldsTheEvent)
}

func testDeadLetterStoreOutageHoldsTheEvent(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) { w.WriteHeader(410) })
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: [100ms, 100ms], jitter: 0}\n")})
	ctx := context.Background()
	if err := g.Bus().JS.DeleteStream(ctx, config.DefaultDLQStream); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Publish(t, g, "order.completed", "held1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "sink degraded by the dead-letter store", func() bool {
		st := sinkStatus(t, g, "s")
		return st.State == "degraded" && strings.Contains(st.StateReason, "dead-letter store failing")
	})
	// 1500ms is many times schedule[0]: a held event retried against the
	// destination would show as a second request.
	testutil.Holds(t, 1500*time.Millisecond, "one request while the dead-letter store is down", func() bool {
		return len(rc.Hits("s")) == 1
	})
	if n := len(rc.Hits("s")); n != 1 {
		t.Fatalf("receiver answered 410 and was asked %d times while the dead-letter store was down", n)
	}
	if err := g.Bus().EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "dead letter stored", func() bool { return len(deadLetters(t, g, "s")) == 1 })
	r := deadLetters(t, g, "s")[0]
	if r.ID != "held1" || r.Status != 410 || r.Attempts != 1 {
		t.Errorf("dead letter = %+v", r)
	}
	testutil.WaitFor(t, 5*time.Second, "sink running again", func() bool { return sinkStatus(t, g, "s").State == "running" })
	if n := len(rc.Hits("s")); n != 1 {
		t.Errorf("receiver asked %d times, want 1", n)
	}
	if st := sinkStatus(t, g, "s"); st.AckPending != 0 || st.Pending != 0 {
		t.Errorf("after the store came back: pending %d, ack pending %d", st.Pending, st.AckPending)
	}
}

// A body near max_payload still fits as a dead letter (kept by
// reference), and redrive delivers it byte for byte.
func TestEventNearMaxPayloadCanBeDeadLetteredAndRedriven(t *testing.T) {
	forEachDelivery(t, testEventNearMaxPayloadCanBeDeadLetteredAndRedriven)
}

func testEventNearMaxPayloadCanBeDeadLetteredAndRedriven(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	var mu sync.Mutex // what the answer reads
	gone := true
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		mu.Lock()
		g := gone
		mu.Unlock()
		if g {
			w.WriteHeader(410)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery)})
	max := int(g.Bus().JS.Conn().MaxPayload())
	body := []byte(`{"pad":"` + strings.Repeat("x", max-400-10) + `"}`)
	gatewaytest.Publish(t, g, "order.completed", "big1", body, nil)
	testutil.WaitFor(t, 15*time.Second, "dead letter", func() bool { return len(deadLetters(t, g, "s")) == 1 })
	r := deadLetters(t, g, "s")[0]
	if r.ID != "big1" || r.Status != 410 {
		t.Errorf("dead letter = %+v", r)
	}
	mu.Lock()
	gone = false
	mu.Unlock()
	redriveOne(t, g, "s")
	testutil.WaitFor(t, 10*time.Second, "redriven delivery", func() bool { return len(rc.Hits("s")) == 2 })
	h := rc.Hits("s")[1]
	if h.ID != "big1" || !h.Valid || !strings.Contains(string(h.Body), string(body)) {
		t.Errorf("redriven delivery: id %q valid %v, body %d bytes", h.ID, h.Valid, len(h.Body))
	}
}

// A reload that shortens the retry schedule must not let
// JetStream's MaxDeliver drop an event mid-retry: it is dead-lettered
// with the reason.
func TestShorterScheduleDeadLettersEventsPastIt(t *testing.T) {
	forEachDelivery(t, testShorterScheduleDeadLettersEventsPastIt)
}

func testShorterScheduleDeadLettersEventsPastIt(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) { w.WriteHeader(500) })
	dir := t.TempDir()
	long := "    retry: {schedule: [100ms, 100ms, 100ms, 100ms, 100ms, 400ms], jitter: 0}\n"
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("s", `[">"]`, 4, delivery+long)})
	gatewaytest.Publish(t, g, "order.completed", "short1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "six attempts", func() bool { return len(rc.Hits("s")) >= 6 })
	base := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nshutdown_grace: 2s\n\nsinks:", dir)
	cfg, err := config.Parse("reload.yaml", []byte(base+rc.SinkYAML("s", `[">"]`, 4, delivery+"    retry: {schedule: [300ms], jitter: 0}\n")), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reload(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "dead letter", func() bool { return len(deadLetters(t, g, "s")) == 1 })
	if r := deadLetters(t, g, "s")[0]; r.ID != "short1" || !strings.Contains(r.Reason, "budget") {
		t.Errorf("dead letter = %+v", r)
	}
	// A shared sink's records are read by the delivery consumers.
	consumers := [][2]string{{"EVENTS", "s"}}
	if isShared(delivery) {
		consumers = nil
		for p := 0; p < subject.SharedPartitions; p++ {
			consumers = append(consumers, [2]string{event.DeliveriesStream, subject.DeliverConsumer(p)})
		}
	}
	for _, c := range consumers {
		info, err := g.Bus().JS.Consumer(context.Background(), c[0], c[1])
		if err != nil {
			t.Fatal(err)
		}
		if md := info.CachedInfo().Config.MaxDeliver; md != -1 {
			t.Errorf("consumer %s MaxDeliver = %d, want -1 (unlimited: Switchyard ends events, not the server)", c[1], md)
		}
	}
}

// A consumer deleted behind the gateway's back is detected and
// recreated from the recorded ack floor: events published meanwhile are
// delivered, and /v1/sinks keeps answering.
func TestDeletedConsumerIsRecreatedWithoutSkipping(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("before%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "first five", func() bool { return len(rc.Hits("s")) == 5 })
	ctx := context.Background()
	// The floor recorded past the five (stream sequences 1 to 5), as the
	// ack-floor recorder writes it every ackfloor.Every.
	kv, err := g.Bus().StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, ackfloor.Every+5*time.Second, "the ack floor recorded past the first five", func() bool {
		e, err := kv.Get(ctx, "ackfloor.s")
		if err != nil {
			return false
		}
		seq, _, _ := strings.Cut(string(e.Value()), " ")
		n, err := strconv.ParseUint(seq, 10, 64)
		return err == nil && n >= 5
	})
	if err := g.Bus().JS.DeleteConsumer(ctx, "EVENTS", "s"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("after%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 20*time.Second, "events published after the deletion", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("s") {
			seen[h.ID] = true
		}
		for i := 0; i < 5; i++ {
			if !seen[fmt.Sprintf("after%d", i)] {
				return false
			}
		}
		return true
	})
	if st := sinkStatus(t, g, "s"); st.State != "running" {
		t.Errorf("state after recovery = %q (%s)", st.State, st.StateReason)
	}
}

// A consumer lost before any floor was recorded (its first event still
// waiting out a retry, so nothing is settled) comes back from where the
// lost consumer began, not from "now": the event it had not settled and
// those published while it was gone are all delivered.
func TestConsumerLostBeforeAnyFloorIsRecreatedFromItsStart(t *testing.T) {
	rc := testutil.NewReceiver(t)
	var up sync.Mutex
	failing := true
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		up.Lock()
		defer up.Unlock()
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "    retry: {schedule: [30s]}\n")})
	gatewaytest.Publish(t, g, "order.completed", "first", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the first attempt", func() bool { return len(rc.Hits("s")) == 1 })
	ctx := context.Background()
	if err := g.Bus().JS.DeleteConsumer(ctx, "EVENTS", "s"); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Publish(t, g, "order.completed", "meanwhile", []byte(`{}`), nil)
	up.Lock()
	failing = false
	up.Unlock()
	testutil.WaitFor(t, 20*time.Second, "the unsettled event and the one published while the consumer was gone", func() bool {
		seen := map[string]int{}
		for _, h := range rc.Hits("s") {
			seen[h.ID]++
		}
		// first's second request is the one answered 2xx.
		return seen["first"] >= 2 && seen["meanwhile"] >= 1
	})
}

// The restart half of the above: a consumer lost while the gateway is
// down is recreated from the recorded ack floor, not from "now".
func TestConsumerLostWhileStoppedResumesFromAckFloor(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	for i := 0; i < 3; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("a%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "first three", func() bool { return len(rc.Hits("s")) == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// A second gateway on the same store, with no sinks, stands in for a
	// producer while the first is down; the consumer is lost meanwhile.
	g2, stop2 := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: "\n  []"})
	ctx := context.Background()
	if err := g2.Bus().JS.DeleteConsumer(ctx, "EVENTS", "s"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		gatewaytest.Publish(t, g2, "order.completed", fmt.Sprintf("b%d", i), []byte(`{}`), nil)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	testutil.WaitFor(t, 15*time.Second, "events published while the consumer was gone", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("s") {
			seen[h.ID] = true
		}
		return seen["b0"] && seen["b1"] && seen["b2"]
	})
}

// A stop records the ack floor of what its drain settled: the recorder's
// last round comes after the sinks are done, not at the stop's start while
// a delivery is still in flight. A round then reads a floor of 0 (nothing
// acked yet) and records nothing, and a consumer lost while the gateway is
// down is recreated at "now", past the events published meanwhile.
func TestStopRecordsTheAckFloorOfTheDrainedDeliveries(t *testing.T) {
	rc := testutil.NewReceiver(t)
	rc.SetDelay("s", 500*time.Millisecond) // answered within the 2s shutdown grace
	dir := t.TempDir()
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	gatewaytest.Publish(t, g, "order.completed", "a0", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "the delivery in flight", func() bool { return len(rc.Hits("s")) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The store is read through a gateway without sinks on the same dir.
	g2, _ := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: "\n  []"})
	ctx := context.Background()
	kv, err := g2.Bus().StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, ackfloor.Key("s"))
	if err != nil {
		t.Fatalf("no ack floor recorded for the delivery the stop drained: %v", err)
	}
	if seq, _, _ := strings.Cut(string(e.Value()), " "); seq != "1" {
		t.Errorf("ack floor recorded at stop = %q, want 1", e.Value())
	}
}

// Messages held back by the rate limiter are kept alive; none
// expires and is sent twice, and every first attempt is attempt 1.
func TestHeldMessagesAreNotSentTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s at 1 event/s")
	}
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: "attempts: {enabled: true}", Sinks: strings.Replace(rc.SinkYAML("s", `[">"]`, 4, "    rate_limit: 1/s\n    rate_limit_burst: 1\n    ack_wait: 3s\n"), "timeout: 2s", "timeout: 1s", 1)})
	const n = 20
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("rl%d", i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 40*time.Second, "every event", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("s") {
			seen[h.ID] = true
		}
		return len(seen) == n
	})
	// 2s is past the messages' expiry this test forces: a held message
	// that expired would be redelivered and POSTed again within it.
	testutil.Holds(t, 2*time.Second, "one POST per event", func() bool { return len(rc.Hits("s")) == n })
	if got := len(rc.Hits("s")); got != n {
		t.Errorf("%d POSTs for %d events: held messages expired and were sent again", got, n)
	}
	var recs []attempts.Record
	adminDo(t, g, "GET", "/v1/attempts?sink=s&limit=1000", &recs)
	for _, r := range recs {
		if r.Attempt != 1 {
			t.Errorf("event %s logged as attempt %d", r.EventID, r.Attempt)
		}
	}
}

var _ = jetstream.ErrConsumerDeleted
