package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

func cloudEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func newPstest(t testing.TB, topic string) *pstest.Server {
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// One event type fans out to a webhook, EventBridge and Pub/Sub at once.
// EventBridge throttles some entries once: only those entries are put
// again, through JetStream redelivery, and every sink ends with every event.
func TestFanOutToWebhookEventBridgeAndPubSub(t *testing.T) {
	cloudEnv(t)
	rc := testutil.NewReceiver(t)
	eb := fakeeb.New()
	defer eb.Close()
	ps := newPstest(t, "projects/proj/topics/events")
	const n = 50
	for i := 0; i < n; i += 7 {
		eb.Once[fmt.Sprintf("f%d", i)] = "ThrottlingException"
	}
	sinks := rc.SinkYAML("hook", `["order.*"]`, 4, "") + fmt.Sprintf(`
  - name: bus
    events: ["order.*"]
    concurrency: 2
    batch: {max_events: 10, max_wait: 20ms}
    retry: {schedule: [200ms, 400ms], jitter: 0}
    eventbridge: {bus: default, region: us-east-1, source: com.example.switchyard, endpoint: %q}
  - name: topic
    events: ["order.*"]
    concurrency: 2
    batch: {max_events: 50, max_wait: 20ms}
    retry: {schedule: [200ms, 400ms], jitter: 0}
    pubsub: {project: proj, topic: events, endpoint: %q, ordering_key: "{{.Subject}}"}
`, eb.URL, ps.Addr)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: sinks})
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("f%d", i), []byte(fmt.Sprintf(`{"i":%d}`, i)), map[string]string{"ce-subject": fmt.Sprintf("o%d", i%3)})
	}
	testutil.WaitFor(t, 30*time.Second, "every sink to have every event", func() bool {
		h, e, p := len(rc.Hits("hook")), len(eb.Received()), len(ps.Messages())
		if h < n || e < n || p < n {
			t.Logf("webhook %d, eventbridge %d, pubsub %d of %d", h, e, p, n)
			return false
		}
		return true
	})
	// A wrong extra send would come with the batch it belongs to: 300ms
	// more of the same counts shows none.
	h, e, p := len(rc.Hits("hook")), len(eb.Received()), len(ps.Messages())
	testutil.Holds(t, 300*time.Millisecond, "no delivery beyond every event", func() bool {
		return len(rc.Hits("hook")) == h && len(eb.Received()) == e && len(ps.Messages()) == p
	})

	eb.Mu.Lock()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("f%d", i)
		want := 1
		if i%7 == 0 {
			want = 2
		}
		if got := eb.Attempts[id]; got != want {
			t.Errorf("EventBridge saw %s %d times, want %d", id, got, want)
		}
	}
	batched := 0
	for _, c := range eb.Calls {
		if len(c) > 1 {
			batched++
		}
	}
	eb.Mu.Unlock()
	if batched == 0 {
		t.Error("no PutEvents call carried more than one entry: batching is off")
	}
	ids := map[string]int{}
	for _, m := range ps.Messages() {
		ids[m.Attributes["id"]]++
	}
	if len(ids) != n || len(ps.Messages()) != n {
		t.Errorf("Pub/Sub: %d messages, %d distinct, want %d once each", len(ps.Messages()), len(ids), n)
	}
	if h := len(rc.Hits("hook")); h != n {
		t.Errorf("webhook: %d deliveries, want %d", h, n)
	}
}
