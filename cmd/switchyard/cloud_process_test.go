package main_test

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// The built binary fans one event type out to a webhook, EventBridge (the
// protocol-faithful PutEvents fake, through the AWS SDK) and Pub/Sub
// (pstest) at once; kill -9 mid-delivery and a restart lose nothing on any
// of them. (moto, the real emulator, is too slow for this under a loaded
// CI machine — about 2 s per PutEvents — and has its own tests.)
func TestKill9FanOutToWebhookEventBridgePubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	eb := fakeeb.New()
	defer eb.Close()
	// Each PutEvents takes a while, like a real network.
	eb.Script = func(string, int) string { time.Sleep(50 * time.Millisecond); return "" } // per entry: 0.5 s a PutEvents of 10
	ebUnique := func() int {
		ids := map[string]bool{}
		for _, r := range eb.Received() {
			ids[r.ID] = true
		}
		return len(ids)
	}
	ctx := context.Background()
	// Each publish takes a while, like a real network, so the kill lands
	// while Pub/Sub deliveries are in flight too.
	ps := pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: slowPublish(500 * time.Millisecond)})
	defer ps.Close()
	if _, err := ps.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/proj/topics/events"}); err != nil {
		t.Fatal(err)
	}

	// moto takes about 2 s per PutEvents that feeds a rule and a queue:
	// 60 events are 6 calls, enough to kill the gateway in the middle.
	const n = 60
	rc := newCountingReceiver(t, 50*time.Millisecond)
	h := newHarnessWith(t, rc, "5s", fmt.Sprintf(`
  - name: bus
    events: [">"]
    concurrency: 4
    ack_wait: 8s
    batch: {max_events: 10, max_wait: 20ms}
    retry: {schedule: [500ms, 1s, 2s, 4s, 8s]} # room for a loaded CI machine
    eventbridge: {bus: default, region: us-east-1, source: com.example.switchyard, endpoint: %q, timeout: 6s}
  - name: topic
    events: [">"]
    concurrency: 4
    ack_wait: 8s
    batch: {max_events: 5, max_wait: 20ms}
    retry: {schedule: [500ms, 1s, 2s, 4s, 8s]} # room for a loaded CI machine
    pubsub: {project: proj, topic: events, endpoint: %q, timeout: 6s}
`, eb.URL, ps.Addr))
	cmd := h.start()
	h.publish(0, n)
	testutil.WaitFor(t, 30*time.Second, "deliveries under way on every sink", func() bool {
		u, _ := rc.counts()
		p, e := len(ps.Messages()), ebUnique()
		return u >= 10 && e >= 10 && p >= 10 && (e < n || p < n)
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	hookBefore, _ := rc.counts()
	busBefore, topicBefore := ebUnique(), len(ps.Messages())

	h.start()
	progress := ""
	defer func() {
		if t.Failed() {
			out, _ := exec.Command(binary, "status", "--admin", h.admin).CombinedOutput()
			t.Logf("status at the end:\n%s", out)
			if nc, err := nats.Connect(h.natsURL); err == nil {
				js, _ := jetstream.New(nc)
				if st, err := js.Stream(context.Background(), "EVENTS"); err == nil {
					si, _ := st.Info(context.Background())
					t.Logf("stream EVENTS: msgs %d first %d last %d", si.State.Msgs, si.State.FirstSeq, si.State.LastSeq)
					for _, name := range []string{"crash", "bus", "topic"} {
						if c, err := st.Consumer(context.Background(), name); err == nil {
							ci, _ := c.Info(context.Background())
							t.Logf("consumer %s: delivered %d ack floor %d pending %d ack pending %d redelivered %d",
								name, ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
						}
					}
				}
				nc.Close()
			}
			missing := []string{}
			have := map[string]bool{}
			for _, m := range ps.Messages() {
				have[m.Attributes["id"]] = true
			}
			for i := 0; i < n; i++ {
				if id := fmt.Sprintf("evt-%05d", i); !have[id] {
					missing = append(missing, id)
				}
			}
			t.Logf("missing at pubsub: %v", missing)
			if len(missing) > 0 {
				out, _ := exec.Command(binary, "attempts", "--admin", h.admin, "--event-id", missing[0]).CombinedOutput()
				t.Logf("attempts of %s since the restart:\n%s", missing[0], out)
			}
		}
	}()
	testutil.WaitFor(t, 90*time.Second, "every event on every sink after restart", func() bool {
		u, _ := rc.counts()
		ids := map[string]bool{}
		for _, m := range ps.Messages() {
			ids[m.Attributes["id"]] = true
		}
		if p := fmt.Sprintf("webhook %d, eventbridge %d, pubsub %d of %d", u, ebUnique(), len(ids), n); p != progress {
			progress = p
			t.Log(progress)
		}
		return u == n && ebUnique() == n && len(ids) == n
	})
	_, hookTotal := rc.counts()
	busTotal := len(eb.Received())
	t.Logf("killed with webhook %d/%d, eventbridge %d/%d, pubsub %d/%d delivered; after restart all %d on each; duplicates: webhook %d, eventbridge %d, pubsub %d",
		hookBefore, n, busBefore, n, topicBefore, n, n, hookTotal-n, busTotal-n, len(ps.Messages())-n)
}

// slowPublish is a pstest reactor that delays every publish and then lets
// pstest handle it.
type slowPublish time.Duration

func (d slowPublish) React(any) (bool, any, error) {
	time.Sleep(time.Duration(d))
	return false, nil, nil
}
