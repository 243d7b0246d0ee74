package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
)

// The cloud modes: both systems deliver to the same in-process emulator
// (the PutEvents fake, or pstest), which hands every accepted entry or
// message to the receiver's tally. Sink k is bus "bench<k>" or topic
// "bench<k>".
const (
	ebBatch     = 10  // PutEvents' limit
	psBatch     = 100 // messages per Pub/Sub publish request (both systems)
	cloudWait   = 5 * time.Millisecond
	ebSource    = "com.example.bench"
	psProject   = "bench"
	sinkPrefix  = "bench"
	ebDetailTyp = "bench.created"
)

// cloudDest is the emulator of a cloud mode.
type cloudDest struct {
	mode string
	eb   *fakeeb.Server
	ps   *pstest.Server
}

func sinkIndex(name string) (int, bool) {
	k, err := strconv.Atoi(strings.TrimPrefix(name[strings.LastIndexByte(name, '/')+1:], sinkPrefix))
	return k, err == nil
}

// publishReactor counts each message of a Publish request as received,
// then lets pstest handle the request.
type publishReactor struct{ rc *receiver }

func (r publishReactor) React(req any) (bool, any, error) {
	if p, ok := req.(*pubsubpb.PublishRequest); ok {
		now := time.Now().UnixNano()
		if k, ok := sinkIndex(p.Topic); ok {
			for _, m := range p.Messages {
				r.rc.hit(k, m.Data, now)
			}
		}
	}
	return false, nil, nil
}

func newCloudDest(ctx context.Context, o Options, rc *receiver) (*cloudDest, error) {
	d := &cloudDest{mode: o.Sink}
	switch o.Sink {
	case "eventbridge":
		d.eb = fakeeb.New()
		d.eb.OnEntry = func(e fakeeb.Entry, now time.Time) {
			if k, ok := sinkIndex(e.EventBusName); ok {
				rc.hit(k, []byte(e.Detail), now.UnixNano())
			}
		}
	case "pubsub":
		d.ps = pstest.NewServerWithAddress("127.0.0.1:0", pstest.ServerReactorOption{FuncName: "Publish", Reactor: publishReactor{rc}})
		for k := range o.Sinks {
			if _, err := d.ps.GServer.CreateTopic(ctx, &pubsubpb.Topic{Name: psTopic(k)}); err != nil {
				d.close()
				return nil, err
			}
		}
	}
	return d, nil
}

func psTopic(k int) string {
	return "projects/" + psProject + "/topics/" + sinkPrefix + strconv.Itoa(k)
}

// reset drops what the emulator kept of the last phase.
func (d *cloudDest) reset() {
	switch {
	case d == nil:
	case d.eb != nil:
		d.eb.Mu.Lock()
		d.eb.Entries, d.eb.Calls, d.eb.Attempts = nil, nil, map[string]int{}
		d.eb.Mu.Unlock()
	case d.ps != nil:
		d.ps.ClearMessages()
	}
}

func (d *cloudDest) close() {
	switch {
	case d == nil:
	case d.eb != nil:
		d.eb.Close()
	case d.ps != nil:
		_ = d.ps.Close()
	}
}

// sinkYAML is the product's sink k for the mode.
func (d *cloudDest) sinkYAML(o Options, k int) string {
	head := fmt.Sprintf("  - name: %s%d\n    events: [\">\"]\n    concurrency: %d\n", sinkPrefix, k, o.Concurrency) + deliveryYAML(o)
	switch d.mode {
	case "eventbridge":
		return head + fmt.Sprintf("    batch: {max_events: %d, max_wait: %s}\n    eventbridge: {bus: %s%d, region: us-east-1, source: %s, endpoint: %q}\n",
			ebBatch, cloudWait, sinkPrefix, k, ebSource, d.eb.URL)
	default:
		return head + fmt.Sprintf("    batch: {max_events: %d, max_wait: %s}\n    pubsub: {project: %s, topic: %s%d, endpoint: %q}\n",
			psBatch, cloudWait, psProject, sinkPrefix, k, d.ps.Addr)
	}
}

// awsEnv gives the product's SDK (default credential chain) static
// credentials for the fake, unless the environment has some.
func awsEnv() {
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		_ = os.Setenv("AWS_ACCESS_KEY_ID", "bench")
		_ = os.Setenv("AWS_SECRET_ACCESS_KEY", "bench")
	}
	_ = os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// cloudSender is the bare loop's destination client for one sink: it sends
// a batch with the SDK's own batch call and returns once the destination
// accepted it (then the loop acks every message).
type cloudSender interface {
	send(ctx context.Context, msgs []jetstream.Msg) error
	close()
}

// ebSender: PutEvents with up to 10 entries, static credentials, no SDK
// retries, the fake as BaseEndpoint.
type ebSender struct {
	client *eventbridge.Client
	bus    string
}

func newEBSender(d *cloudDest, k int) *ebSender {
	client := eventbridge.New(eventbridge.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		Retryer:      aws.NopRetryer{},
		BaseEndpoint: aws.String(d.eb.URL),
	})
	return &ebSender{client: client, bus: sinkPrefix + strconv.Itoa(k)}
}

func (s *ebSender) send(ctx context.Context, msgs []jetstream.Msg) error {
	entries := make([]ebtypes.PutEventsRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = ebtypes.PutEventsRequestEntry{EventBusName: aws.String(s.bus), Source: aws.String(ebSource),
			DetailType: aws.String(ebDetailTyp), Detail: aws.String(string(m.Data()))}
	}
	out, err := s.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return err
	}
	if out.FailedEntryCount > 0 {
		return fmt.Errorf("%d entries failed", out.FailedEntryCount)
	}
	return nil
}

func (s *ebSender) close() {}

// psSender: the v2 client's Publisher (client-side batching, the same
// thresholds as the product's sink), Publish each then Get each.
type psSender struct {
	client *gpubsub.Client
	pub    *gpubsub.Publisher
}

func newPSSender(ctx context.Context, d *cloudDest, k int) (*psSender, error) {
	client, err := gpubsub.NewClient(ctx, psProject, option.WithEndpoint(d.ps.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return nil, err
	}
	pub := client.Publisher(psTopic(k))
	pub.PublishSettings.CountThreshold = psBatch
	pub.PublishSettings.DelayThreshold = cloudWait
	return &psSender{client: client, pub: pub}, nil
}

func (s *psSender) send(ctx context.Context, msgs []jetstream.Msg) error {
	results := make([]*gpubsub.PublishResult, len(msgs))
	for i, m := range msgs {
		results[i] = s.pub.Publish(ctx, &gpubsub.Message{Data: m.Data()})
	}
	var first error
	for _, r := range results {
		if _, err := r.Get(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *psSender) close() {
	s.pub.Stop()
	_ = s.client.Close()
}

// cloudSendTimeout bounds one bare-loop send, as a sink's timeout does.
const cloudSendTimeout = 10 * time.Second

// runCloudWorkers is the bare loop's per-sink delivery for a cloud mode:
// one goroutine takes messages off the pull consumer, and C workers each
// gather a batch (up to batch messages, waiting at most cloudWait after the
// first: the product's max_events and max_wait), send it, and ack each
// message (or nak them all).
func (b *bareLoop) runCloudWorkers(ctx context.Context, it jetstream.MessagesContext, s cloudSender, batch int) {
	ch := make(chan jetstream.Msg, 2*b.o.Concurrency)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(ch)
		for {
			m, ok := nextMsg(it, &b.stalls)
			if !ok {
				return
			}
			ch <- m
		}
	}()
	for range b.o.Concurrency {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			msgs := make([]jetstream.Msg, 0, batch)
			timer := time.NewTimer(time.Hour)
			timer.Stop()
			for m := range ch {
				msgs = append(msgs[:0], m)
				timer.Reset(cloudWait)
			gather:
				for len(msgs) < batch {
					select {
					case m, ok := <-ch:
						if !ok {
							break gather
						}
						msgs = append(msgs, m)
					case <-timer.C:
						break gather
					}
				}
				timer.Stop()
				// Bounded like the product's sends: a call stuck on a busy
				// machine is retried, not left to hold the worker.
				sctx, cancel := context.WithTimeout(ctx, cloudSendTimeout)
				err := s.send(sctx, msgs)
				cancel()
				if err != nil {
					for _, m := range msgs {
						_ = m.Nak()
					}
					continue
				}
				for _, m := range msgs {
					_ = m.Ack()
				}
			}
		}()
	}
}
