package gocloud_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"gocloud.dev/pubsub"

	"github.com/switchyard-dev/switchyard/internal/emulators"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/gocloud"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

func open(t *testing.T, u string) *gocloud.Driver {
	t.Helper()
	d, err := gocloud.New(context.Background(), gocloud.Config{URL: u, Timeout: config.Duration{D: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// memHarness gives each driver its own mem:// topic with a subscription
// opened before anything is sent, and collects what the subscriptions get.
type memHarness struct {
	mu   sync.Mutex
	got  []sinktest.Received
	next atomic.Int64
}

func (h *memHarness) Open(t *testing.T) sink.Driver {
	// mempubsub topics are process-wide by name: unique across -count runs.
	name := fmt.Sprintf("mem://conformance-%d-%d", time.Now().UnixNano(), h.next.Add(1))
	d := open(t, name)
	subscription, err := pubsub.OpenSubscription(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := subscription.Receive(ctx)
			if err != nil {
				return
			}
			m.Ack()
			ts, _ := time.Parse(time.RFC3339Nano, m.Metadata["time"])
			h.mu.Lock()
			h.got = append(h.got, sinktest.Received{ID: m.Metadata["id"], Type: m.Metadata["type"], Time: ts, Data: m.Body})
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; subscription.Shutdown(context.Background()) })
	return d
}

func (h *memHarness) Received(*testing.T) []sinktest.Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sinktest.Received(nil), h.got...)
}

func (h *memHarness) Fail(string, sinktest.Fault) bool { return false }
func (h *memHarness) Attempts(string) int              { return -1 }

func TestConformanceMem(t *testing.T) {
	sinktest.Run(t, &memHarness{}, sinktest.Capabilities{MaxBatch: gocloud.MaxBatch})
}

// awssqs:// against moto: body and attributes arrive as SQS message body
// and message attributes.
func TestAWSSQSThroughMoto(t *testing.T) {
	endpoint := emulators.Moto(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("legacy")})
	if err != nil {
		t.Fatal(err)
	}
	qurl, _ := url.Parse(aws.ToString(created.QueueUrl))
	topicURL := fmt.Sprintf("awssqs://%s%s?region=us-east-1&endpoint=%s", qurl.Host, qurl.Path, url.QueryEscape(endpoint))
	d := open(t, topicURL)

	var batch []*event.Event
	for i := 0; i < 15; i++ {
		batch = append(batch, &event.Event{ID: fmt.Sprintf("sq%d", i), Type: "user.created", Source: "accounts",
			Time: time.Now().UTC(), Data: []byte(fmt.Sprintf(`{"user":%d}`, i))})
	}
	if err := d.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	deadline := time.Now().Add(15 * time.Second)
	for len(seen) < len(batch) && time.Now().Before(deadline) {
		res, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Messages {
			id := aws.ToString(m.MessageAttributes["id"].StringValue)
			seen[id] = aws.ToString(m.Body)
			if aws.ToString(m.MessageAttributes["type"].StringValue) != "user.created" {
				t.Errorf("attributes %v", m.MessageAttributes)
			}
		}
	}
	for _, e := range batch {
		if seen[e.ID] != string(e.Data) {
			t.Errorf("%s: body %q, want %q", e.ID, seen[e.ID], e.Data)
		}
	}
}
