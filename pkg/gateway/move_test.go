package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// A PATCH of delivery moves an API sink between dedicated and shared
// delivery while events are published: every event arrives, none twice,
// including those waiting out a retry at the switch (the first try of
// every 7th fails), and the dedicated sink's consumers are gone after a
// move to shared.
func TestDeliveryMoveWithEventsInFlight(t *testing.T) {
	for _, tc := range []struct{ from, to string }{{"dedicated", "shared"}, {"shared", "dedicated"}} {
		t.Run(tc.from+"_to_"+tc.to, func(t *testing.T) { testDeliveryMove(t, tc.from, tc.to) })
	}
}

// failsFirst says whether the receiver fails the first try of event id
// ("m<n>"): every 7th.
func failsFirst(id string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "m"))
	return err == nil && n%7 == 0
}

func testDeliveryMove(t *testing.T, from, to string) {
	const events = 300
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, _, id string, n int) {
		if n == 1 && failsFirst(id) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop})
	def := fmt.Sprintf(`{"name":"m","events":[">"],"concurrency":4,"delivery":%q,"retry":{"schedule":["1s","1s","1s","1s","1s"]},
	  "webhook":{"url":"%s/m","timeout":"2s","allow_private_networks":true,"tls":{"ca_file":%q}}}`, from, rc.Server.URL, rc.CAFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", def, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	ctx := context.Background()
	if _, err := g.Bus().JS.Consumer(ctx, "EVENTS", "m"); (err == nil) != (from == "dedicated") {
		t.Fatalf("a %s sink's consumer: %v", from, err)
	}

	var wg sync.WaitGroup
	published := make(chan int, events)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Second / events)
		defer tick.Stop()
		for i := 1; i <= events; i++ {
			<-tick.C
			m := nats.NewMsg("events.order.created")
			m.Header.Set(event.HeaderMsgID, "m"+strconv.Itoa(i))
			m.Data = []byte(`{}`)
			if _, err := g.Bus().JS.PublishMsg(ctx, m); err != nil {
				t.Error(err)
				return
			}
			published <- i
		}
	}()
	// Mid-stream, with some events delivered, some failed once and
	// waiting for their retry, some not yet pulled.
	testutil.WaitFor(t, 10*time.Second, "a third published, one failed once", func() bool {
		return len(published) >= events/3 && len(rc.Hits("m")) >= events/4
	})
	var v map[string]any
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/m", fmt.Sprintf(`{"delivery":%q}`, to), &v); code != 200 {
		t.Fatalf("PATCH delivery %s: %d %v", to, code, v)
	}
	wg.Wait()

	want := func(id string) int {
		if failsFirst(id) {
			return 2
		}
		return 1
	}
	count := func() map[string]int {
		got := map[string]int{}
		for _, h := range rc.Hits("m") {
			got[h.ID]++
		}
		return got
	}
	var missing []string
	defer func() {
		if t.Failed() && len(missing) > 0 {
			t.Logf("not delivered (as often as they should be): %v", missing)
		}
	}()
	testutil.WaitFor(t, 30*time.Second, "every event delivered", func() bool {
		got := count()
		missing = missing[:0]
		for i := 1; i <= events; i++ {
			if id := "m" + strconv.Itoa(i); got[id] < want(id) {
				missing = append(missing, fmt.Sprintf("%s:%d", id, got[id]))
			}
		}
		return len(missing) == 0
	})
	testutil.Holds(t, 1500*time.Millisecond, "no event delivered twice", func() bool {
		got := count()
		for i := 1; i <= events; i++ {
			if id := "m" + strconv.Itoa(i); got[id] != want(id) {
				t.Logf("%s: %d requests, want %d", id, got[id], want(id))
				return false
			}
		}
		return len(got) == events
	})
	if code := apiJSON(t, g, "GET", "/v1/sinks/m", "", &v); code != 200 || v["delivery"] != to {
		t.Fatalf("status: %d delivery %v, want %s", code, v["delivery"], to)
	}
	if to == "shared" {
		testutil.WaitFor(t, 10*time.Second, "the dedicated consumers deleted", func() bool {
			_, err := g.Bus().JS.Consumer(ctx, "EVENTS", "m")
			_, rerr := g.Bus().JS.Consumer(ctx, "SWITCHYARD_REDRIVE", subject.RedriveConsumer("m"))
			return errors.Is(err, jetstream.ErrConsumerNotFound) && errors.Is(rerr, jetstream.ErrConsumerNotFound)
		})
	} else {
		testutil.WaitFor(t, 10*time.Second, "no shared record left", func() bool {
			st, err := g.Bus().JS.Stream(ctx, event.DeliveriesStream)
			if err != nil {
				return false
			}
			info, err := st.Info(ctx)
			return err == nil && info.State.Msgs == 0
		})
	}
}

// A move stopped before it is over resumes at the next start: to shared
// delivery, with events waiting out a retry in the dedicated consumer
// (its hand-over); to dedicated, with records waiting as schedules (their
// delivery through the shared sink). Every event arrives, none twice, and
// nothing of the former delivery is left.
func TestDeliveryMoveResumesAfterARestart(t *testing.T) {
	for _, tc := range []struct{ from, to string }{{"dedicated", "shared"}, {"shared", "dedicated"}} {
		t.Run(tc.from+"_to_"+tc.to, func(t *testing.T) { testDeliveryMoveResumes(t, tc.from, tc.to) })
	}
}

func testDeliveryMoveResumes(t *testing.T, from, to string) {
	const events = 30
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, _, id string, n int) {
		if n == 1 && failsFirst(id) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	dir := t.TempDir()
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: apiTop})
	def := fmt.Sprintf(`{"name":"m","events":[">"],"concurrency":4,"delivery":%q,"retry":{"schedule":["6s","1s","1s"]},
	  "webhook":{"url":"%s/m","timeout":"2s","allow_private_networks":true,"tls":{"ca_file":%q}}}`, from, rc.Server.URL, rc.CAFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", def, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for i := 1; i <= events; i++ {
		gatewaytest.Publish(t, g, "order.created", "m"+strconv.Itoa(i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "every event tried once", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("m") {
			seen[h.ID] = true
		}
		return len(seen) == events
	})
	if code := apiJSON(t, g, "PATCH", "/v1/sinks/m", fmt.Sprintf(`{"delivery":%q}`, to), nil); code != 200 {
		t.Fatalf("PATCH: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g, _ = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: apiTop})
	ctx := context.Background()
	deliveries := func() uint64 {
		st, err := g.Bus().JS.Stream(ctx, event.DeliveriesStream)
		if err != nil {
			return 1
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 1
		}
		return info.State.Msgs
	}
	if _, err := g.Bus().JS.Consumer(ctx, "EVENTS", "m"); to == "shared" && err != nil {
		t.Fatalf("the hand-over ended before the stop (the test needs it under way): %v", err)
	}
	if to == "dedicated" && deliveries() == 0 {
		t.Fatal("no shared record left at the stop (the test needs some)")
	}
	want := func(id string) int {
		if failsFirst(id) {
			return 2
		}
		return 1
	}
	exact := func() bool {
		got := map[string]int{}
		for _, h := range rc.Hits("m") {
			got[h.ID]++
		}
		for i := 1; i <= events; i++ {
			if id := "m" + strconv.Itoa(i); got[id] != want(id) {
				return false
			}
		}
		return len(got) == events
	}
	testutil.WaitFor(t, 30*time.Second, "every event delivered after the restart", exact)
	testutil.Holds(t, time.Second, "none twice", exact)
	if to == "shared" {
		testutil.WaitFor(t, 10*time.Second, "the dedicated consumers deleted", func() bool {
			_, err := g.Bus().JS.Consumer(ctx, "EVENTS", "m")
			_, rerr := g.Bus().JS.Consumer(ctx, "SWITCHYARD_REDRIVE", subject.RedriveConsumer("m"))
			return errors.Is(err, jetstream.ErrConsumerNotFound) && errors.Is(rerr, jetstream.ErrConsumerNotFound)
		})
	} else {
		testutil.WaitFor(t, 10*time.Second, "no shared record left", func() bool { return deliveries() == 0 })
	}
}

// A file sink made shared while the gateway is down keeps nothing in its
// old consumers: at the start they are handed over (events waiting out a
// retry among them) and deleted; every event arrives, none twice.
func TestSinkMadeSharedWhileDownHandsItsConsumersOver(t *testing.T) {
	const events = 30
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, _, id string, n int) {
		if n == 1 && failsFirst(id) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	dir := t.TempDir()
	retry := "    retry: {schedule: [6s, 1s, 1s]}\n"
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("m", `[">"]`, 4, retry)})
	for i := 1; i <= events; i++ {
		gatewaytest.Publish(t, g, "order.created", "m"+strconv.Itoa(i), []byte(`{}`), nil)
	}
	testutil.WaitFor(t, 10*time.Second, "every event tried once", func() bool {
		seen := map[string]bool{}
		for _, h := range rc.Hits("m") {
			seen[h.ID] = true
		}
		return len(seen) == events
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g, _ = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: rc.SinkYAML("m", `[">"]`, 4, retry+sharedDelivery)})
	for i := events + 1; i <= events+10; i++ {
		gatewaytest.Publish(t, g, "order.created", "m"+strconv.Itoa(i), []byte(`{}`), nil)
	}
	exact := func() bool {
		got := map[string]int{}
		for _, h := range rc.Hits("m") {
			got[h.ID]++
		}
		for i := 1; i <= events+10; i++ {
			want := 1
			if id := "m" + strconv.Itoa(i); failsFirst(id) {
				want = 2
			}
			if got["m"+strconv.Itoa(i)] != want {
				return false
			}
		}
		return len(got) == events+10
	}
	testutil.WaitFor(t, 30*time.Second, "every event delivered after the restart", exact)
	testutil.Holds(t, time.Second, "none twice", exact)
	ctx := context.Background()
	testutil.WaitFor(t, 10*time.Second, "the dedicated consumers deleted", func() bool {
		_, err := g.Bus().JS.Consumer(ctx, "EVENTS", "m")
		_, rerr := g.Bus().JS.Consumer(ctx, "SWITCHYARD_REDRIVE", subject.RedriveConsumer("m"))
		return errors.Is(err, jetstream.ErrConsumerNotFound) && errors.Is(rerr, jetstream.ErrConsumerNotFound)
	})
}
