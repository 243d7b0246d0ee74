package eventbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awseb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/switchyard-dev/switchyard/internal/emulators"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/eventbridge"
)

// routeToQueue creates an SQS queue and a rule on bus that sends every
// event from source to it, the way a subscriber would wire EventBridge.
func routeToQueue(t *testing.T, endpoint, bus, source string) (*sqs.Client, string) {
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	eb := awseb.NewFromConfig(cfg, func(o *awseb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if bus != "default" {
		if _, err := eb.CreateEventBus(ctx, &awseb.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
			t.Fatal(err)
		}
	}
	created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("switchyard-" + bus)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := json.Marshal(map[string][]string{"source": {source}})
	if _, err := eb.PutRule(ctx, &awseb.PutRuleInput{Name: aws.String("to-sqs"), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &awseb.PutTargetsInput{Rule: aws.String("to-sqs"), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	return q, aws.ToString(created.QueueUrl)
}

// drain reads the queue until want messages arrived or the time is up.
func drain(t *testing.T, q *sqs.Client, url string, want int) []map[string]any {
	var out []map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		res, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Messages {
			var ev map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("SQS body %q: %v", aws.ToString(m.Body), err)
			}
			out = append(out, ev)
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return out
}

// Through moto: bus → rule → SQS, every event with its detail-type,
// source and detail; an entry moto refuses fails alone, by index.
func TestThroughMotoToSQS(t *testing.T) {
	endpoint := emulators.Moto(t)
	staticAWS(t)
	q, url := routeToQueue(t, endpoint, "orders-bus", "com.example.switchyard")
	d := newDriver(t, endpoint, func(c *eventbridge.Config) {
		c.Bus, c.DetailType = "orders-bus", "{{.Subject}}"
		c.Timeout = config.Duration{D: 30 * time.Second} // moto takes seconds a call on a loaded machine
	})

	var batch []*event.Event
	for i := 0; i < 12; i++ {
		batch = append(batch, &event.Event{ID: fmt.Sprintf("m%d", i), Type: "order.completed", Subject: "order",
			Time: time.Now().UTC().Truncate(time.Second), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	batch[4].Subject = "" // empty DetailType: moto answers InvalidArgument for this entry only
	err := d.Send(context.Background(), batch)
	for i := range batch {
		ierr := sink.ErrorFor(err, i)
		if (ierr != nil) != (i == 4) {
			t.Errorf("index %d: %v", i, ierr)
		}
	}
	if c := sink.Classify(sink.ErrorFor(err, 4)); c.Class != sink.Permanent {
		t.Errorf("InvalidArgument entry: %v, want permanent", sink.ErrorFor(err, 4))
	}
	got := drain(t, q, url, 11)
	if len(got) != 11 {
		t.Fatalf("%d events reached SQS, want 11", len(got))
	}
	seen := map[string]bool{}
	for _, ev := range got {
		detail, _ := ev["detail"].(map[string]any)
		id, _ := detail["id"].(string)
		seen[id] = true
		if ev["detail-type"] != "order" || ev["source"] != "com.example.switchyard" || detail["type"] != "order.completed" {
			t.Errorf("event %v", ev)
		}
		if data, _ := detail["data"].(map[string]any); data == nil {
			t.Errorf("detail without data: %v", detail)
		}
	}
	if seen["m4"] || len(seen) != 11 {
		t.Errorf("ids %v", seen)
	}
}
