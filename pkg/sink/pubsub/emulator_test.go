package pubsub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/switchyard-dev/switchyard/internal/emulators"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink/pubsub"
)

// Against the real gcloud Pub/Sub emulator, reached through
// PUBSUB_EMULATOR_HOST as a user would: every event arrives once, with its
// attributes, in order per ordering key.
func TestAgainstGcloudEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Java emulator")
	}
	host := emulators.PubSubEmulator(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", host)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	client, err := gpubsub.NewClient(ctx, "proj")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	sub := "projects/proj/subscriptions/check"
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: sub, Topic: topic, EnableMessageOrdering: true, AckDeadlineSeconds: 30,
	}); err != nil {
		t.Fatal(err)
	}

	// No endpoint in the config: PUBSUB_EMULATOR_HOST alone routes it.
	d := newDriver(t, "", func(c *pubsub.Config) { c.OrderingKey = "{{.Subject}}" })
	const n = 60
	var batch []*event.Event
	for i := 0; i < n; i++ {
		batch = append(batch, &event.Event{ID: fmt.Sprintf("em%d", i), Type: "order.completed", Subject: fmt.Sprintf("order-%d", i%3),
			Source: "shop", Time: time.Now().UTC(), Data: []byte(fmt.Sprintf("%d", i))})
	}
	for i := 0; i < n; i += 20 {
		if err := d.Send(ctx, batch[i:i+20]); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	last := map[string]int{}
	rctx, rcancel := context.WithCancel(ctx)
	go func() {
		deadline := time.After(30 * time.Second)
		for {
			mu.Lock()
			done := len(seen) == n
			mu.Unlock()
			if done {
				// Room for a duplicate to show: every copy was acked, so
				// the emulator redelivers none before AckDeadlineSeconds
				// (30s); a duplicate could only be a second publish, in
				// the topic already, and 300ms is many streaming pulls.
				time.Sleep(300 * time.Millisecond)
				rcancel()
				return
			}
			select {
			case <-deadline:
				rcancel()
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err = client.Subscriber(sub).Receive(rctx, func(_ context.Context, m *gpubsub.Message) {
		mu.Lock()
		defer mu.Unlock()
		m.Ack()
		id := m.Attributes["id"]
		seen[id]++
		var v int
		fmt.Sscan(string(m.Data), &v)
		if prev, ok := last[m.OrderingKey]; ok && v < prev {
			t.Errorf("key %s: %d after %d", m.OrderingKey, v, prev)
		}
		last[m.OrderingKey] = v
		if m.Attributes["type"] != "order.completed" || m.Attributes["source"] != "shop" || m.Attributes["time"] == "" {
			t.Errorf("attributes %v", m.Attributes)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d of %d events received", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s received %d times", id, c)
		}
	}
}
