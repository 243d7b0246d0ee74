// Package pubsub is the sink driver for Google Cloud Pub/Sub, on the v2
// client (cloud.google.com/go/pubsub/v2): the event's data unchanged as the
// message data, its metadata as attributes, optional ordering keys, and the
// client's batching for throughput.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// MaxBatch is the most messages one Pub/Sub publish request takes.
const MaxBatch = 1000

// Driver publishes to one topic.
type Driver struct {
	sink.Base
	client   *gpubsub.Client
	pub      *gpubsub.Publisher
	ordering *sink.Template
	// guard, set, dials the endpoint: its refusal explains a send the
	// client reports only as unavailable.
	guard *netguard.Dialer
}

// MaxOrderingKey is the most bytes Pub/Sub takes in an ordering key.
const MaxOrderingKey = 1024

var _ sink.Driver = (*Driver)(nil)

// New opens a publisher with Application Default Credentials (or
// credentials_file). PUBSUB_EMULATOR_HOST, or endpoint, points it at an
// emulator, without credentials.
func New(ctx context.Context, cfg Config, batch config.Batch) (*Driver, error) {
	return open(ctx, cfg, batch, false)
}

// open is New; guard, an endpoint is dialed through the SSRF guard (an API
// sink without api.allow: [private_networks]). Google's own endpoint, and
// the metadata service Application Default Credentials may ask, are not
// the sink's choice and dial as they are.
func open(ctx context.Context, cfg Config, batch config.Batch, guard bool) (*Driver, error) {
	var opts []option.ClientOption
	var gd *netguard.Dialer
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
		if guard {
			gd = netguard.NewDialer(10 * time.Second)
			opts = append(opts, option.WithGRPCDialOption(grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				return gd.DialContext(ctx, "tcp", addr)
			})))
		}
	}
	if cfg.CredentialsFile != "" {
		opts = append(opts, option.WithAuthCredentialsFile(option.ServiceAccount, cfg.CredentialsFile))
	}
	// No retries inside the client: JetStream redelivery retries, so the
	// schedule and the dead letters' attempt counts stay true.
	noRetry := &vkit.TopicAdminCallOptions{Publish: []gax.CallOption{gax.WithRetry(func() gax.Retryer { return never{} })}}
	client, err := gpubsub.NewClientWithConfig(ctx, cfg.Project, &gpubsub.ClientConfig{TopicAdminCallOptions: noRetry}, opts...)
	if err != nil {
		return nil, fmt.Errorf("pubsub: client: %w", err)
	}
	pub := client.Publisher(cfg.Topic)
	// The client bounds each publish by the timeout itself (Failed reads
	// the expiry from its answer, not from a context of ours).
	pub.PublishSettings.Timeout = cfg.Timeout.D
	pub.PublishSettings.CountThreshold = MaxBatch
	if batch.MaxEvents > 0 && batch.MaxEvents < MaxBatch {
		pub.PublishSettings.CountThreshold = batch.MaxEvents
	}
	pub.PublishSettings.DelayThreshold = max(batch.MaxWait.D, time.Millisecond)
	d := &Driver{client: client, pub: pub, Base: sink.NewBase(cfg.Timeout.D), guard: gd}
	if cfg.OrderingKey != "" {
		t, err := sink.ParseTemplate("ordering_key", cfg.OrderingKey, sink.OutputLimit{Bytes: MaxOrderingKey})
		if err != nil {
			client.Close()
			return nil, fmt.Errorf("pubsub: ordering_key: %w", err)
		}
		d.ordering = t
		pub.EnableMessageOrdering = true
	}
	return d, nil
}

// never is a gax.Retryer that declines every retry. (The client wraps the
// configured retryer, so it must be a real one, not nil.)
type never struct{}

func (never) Retry(error) (time.Duration, bool) { return 0, false }

// Send publishes the batch and waits until the server confirms each
// message: only then may the JetStream message be acked.
func (d *Driver) Send(ctx context.Context, batch []*event.Event) error {
	return d.Batch(ctx, len(batch), func(ctx context.Context, be *sink.BatchError) {
		results := make([]*gpubsub.PublishResult, len(batch))
		keys := make([]string, len(batch))
		for i, e := range batch {
			if d.ordering != nil {
				// Too long is refused, not cut: a cut key would order the
				// event with other keys' events.
				key, err := d.ordering.Execute(e)
				if err != nil {
					be.Fail(i, sink.PermanentError(0, fmt.Errorf("ordering_key: %w", err)))
					continue
				}
				keys[i] = key
			}
			msg := &gpubsub.Message{Data: e.Data, Attributes: e.Attributes(), OrderingKey: keys[i]}
			if err := checkMessage(msg); err != nil {
				be.Fail(i, sink.PermanentError(0, err))
				continue
			}
			results[i] = d.pub.Publish(ctx, msg)
		}
		resume := map[string]bool{}
		for i, r := range results {
			if r == nil {
				continue
			}
			if _, err := r.Get(ctx); err != nil {
				if blocked := d.guard.Refused(); blocked != nil && status.Code(err) == codes.Unavailable {
					// gRPC keeps only the text of the dial's error.
					err = fmt.Errorf("%w (%v)", blocked, err)
				}
				be.Fail(i, d.Failed(ctx, ctx, err, classify))
				if keys[i] != "" {
					resume[keys[i]] = true
				}
			}
		}
		// A failed ordered publish pauses its key in the client; the retry
		// comes through JetStream, so let the key publish again.
		for k := range resume {
			d.pub.ResumePublish(k)
		}
	})
}

// classify reads a failed publish whose send was not canceled.
func classify(err error) error {
	if errors.Is(err, gpubsub.ErrPublisherStopped) {
		return sink.CanceledError(err)
	}
	var blocked *netguard.BlockedError
	if errors.Is(err, gpubsub.ErrOversizedMessage) || errors.As(err, &blocked) {
		return sink.PermanentError(0, err)
	}
	switch status.Code(err) {
	case codes.Canceled:
		return sink.CanceledError(err)
	case codes.NotFound, codes.PermissionDenied, codes.Unimplemented:
		// The topic is missing or closed to us: no message can succeed.
		return sink.PermanentError(0, err)
	}
	// INVALID_ARGUMENT included: the client bundles messages from
	// concurrent sends into one request, so a request-level refusal cannot
	// be pinned on one message. Retried, the others go through in other
	// bundles; a truly bad message fails until its attempts run out. What
	// can be checked per message is checked before publishing.
	return sink.RetryableError(0, err)
}

// Pub/Sub's per-message limits.
const (
	maxAttrValue = 1024
	maxMessage   = 10 << 20
)

// checkMessage refuses, before publishing, what Pub/Sub would refuse.
func checkMessage(m *gpubsub.Message) error {
	size := len(m.Data)
	for k, v := range m.Attributes {
		if len(v) > maxAttrValue {
			return fmt.Errorf("attribute %s is %d bytes; Pub/Sub takes at most %d", k, len(v), maxAttrValue)
		}
		size += len(k) + len(v)
	}
	if size > maxMessage {
		return fmt.Errorf("message is %d bytes; Pub/Sub takes at most %d", size, maxMessage)
	}
	return nil
}

// Ordering implements sink.Ordered: on when ordering_key is set.
func (d *Driver) Ordering() bool { return d.ordering != nil }

// OrderingKey implements sink.Ordered. A key that cannot be computed is
// "": Send then fails the event for good, in no order.
func (d *Driver) OrderingKey(e *event.Event) string {
	if d.ordering == nil {
		return ""
	}
	key, err := d.ordering.Execute(e)
	if err != nil {
		return ""
	}
	return key
}

var _ sink.Ordered = (*Driver)(nil)

// Close flushes and stops the publisher and closes the client. Sends in
// flight are canceled first, so Close never waits on a slow server.
func (d *Driver) Close(context.Context) error {
	return d.Lifecycle.Close(func() error {
		d.pub.Stop()
		return d.client.Close()
	})
}
