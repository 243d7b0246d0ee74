package gateway_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// With ordering keys, events of one key reach Pub/Sub in stream
// order even with 16 workers and a failing first attempt: a retried event
// goes out before the later events of its key.
func TestPubSubOrderingKeysStayInOrderAcrossRetries(t *testing.T) {
	cloudEnv(t)
	faults := testutil.NewFailFirstPublish("e0", "e4", "e10")
	ps := pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: faults})
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.GServer.CreateTopic(t.Context(), &pubsubpb.Topic{Name: "projects/proj/topics/ordered"}); err != nil {
		t.Fatal(err)
	}
	sinks := fmt.Sprintf(`
  - name: ordered
    events: [">"]
    concurrency: 16
    batch: {max_events: 1}
    retry: {schedule: [300ms, 300ms], jitter: 0}
    pubsub: {project: proj, topic: ordered, endpoint: %q, ordering_key: "{{.Subject}}"}
`, ps.Addr)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: sinks})
	const n, keys = 60, 3
	for i := 0; i < n; i++ {
		gatewaytest.Publish(t, g, "order.updated", fmt.Sprintf("e%d", i), []byte(fmt.Sprintf(`{"i":%d}`, i)),
			map[string]string{"ce-subject": fmt.Sprintf("k%d", i%keys)})
	}
	testutil.WaitFor(t, 20*time.Second, "every event in Pub/Sub", func() bool { return len(ps.Messages()) >= n })
	msgs := ps.Messages()
	// pstest numbers messages in the order it stored them.
	sort.Slice(msgs, func(a, b int) bool { return msgID(msgs[a].ID) < msgID(msgs[b].ID) })
	last := map[string]int{}
	for _, m := range msgs {
		var body struct{ I int }
		if err := json.Unmarshal(m.Data, &body); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[m.OrderingKey]; ok && body.I < prev {
			t.Errorf("key %s: event %d stored after event %d", m.OrderingKey, body.I, prev)
		}
		last[m.OrderingKey] = body.I
	}
	if len(msgs) != n {
		t.Errorf("%d messages in Pub/Sub for %d events", len(msgs), n)
	}
}

func msgID(id string) int {
	n, _ := strconv.Atoi(strings.TrimLeft(id, "m"))
	return n
}
