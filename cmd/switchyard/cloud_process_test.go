package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awseb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/emulators"
)

// sqsCounter reads an SQS queue fed by an EventBridge rule and counts the
// event ids in the events' detail.
type sqsCounter struct {
	q    *sqs.Client
	url  string
	mu   sync.Mutex
	seen map[string]int
}

func (c *sqsCounter) poll(ctx context.Context) {
	for ctx.Err() == nil {
		// Short polls: moto's long poll hands out one message at a time.
		// A long visibility timeout instead of deletes: each message is
		// handed out once, at half the requests.
		res, err := c.q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(c.url), MaxNumberOfMessages: 10, VisibilityTimeout: 3600})
		if err != nil || len(res.Messages) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, m := range res.Messages {
			var ev struct {
				Detail struct{ ID string } `json:"detail"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &ev)
			c.mu.Lock()
			c.seen[ev.Detail.ID]++
			c.mu.Unlock()
		}
	}
}

func (c *sqsCounter) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func motoBusToQueue(t *testing.T, endpoint string) *sqsCounter {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	eb := awseb.NewFromConfig(cfg, func(o *awseb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("crash")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("all"), EventPattern: aws.String(`{"source":["com.example.switchyard"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String("all"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	return &sqsCounter{q: q, url: aws.ToString(created.QueueUrl), seen: map[string]int{}}
}

// The built binary fans one event type out to a webhook, EventBridge
// (moto) and Pub/Sub (pstest) at once; kill -9 mid-delivery and a restart
// lose nothing on any of them.
func TestKill9FanOutToWebhookEventBridgePubSub(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	motoURL := emulators.Moto(t)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	sqsc := motoBusToQueue(t, motoURL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sqsc.poll(ctx)
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
`, motoURL, ps.Addr))
	cmd := h.start()
	h.publish(0, n)
	waitFor(t, 30*time.Second, "deliveries under way on every sink", func() bool {
		u, _ := rc.counts()
		p := len(ps.Messages())
		return u >= 10 && sqsc.unique() >= 10 && p >= 10 && p < n
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	hookBefore, _ := rc.counts()
	busBefore, topicBefore := sqsc.unique(), len(ps.Messages())

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
		}
	}()
	waitFor(t, 90*time.Second, "every event on every sink after restart", func() bool {
		u, _ := rc.counts()
		ids := map[string]bool{}
		for _, m := range ps.Messages() {
			ids[m.Attributes["id"]] = true
		}
		if p := fmt.Sprintf("webhook %d, eventbridge %d, pubsub %d of %d", u, sqsc.unique(), len(ids), n); p != progress {
			progress = p
			t.Log(progress)
		}
		return u == n && sqsc.unique() == n && len(ids) == n
	})
	_, hookTotal := rc.counts()
	sqsc.mu.Lock()
	busTotal := 0
	for _, c := range sqsc.seen {
		busTotal += c
	}
	sqsc.mu.Unlock()
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
