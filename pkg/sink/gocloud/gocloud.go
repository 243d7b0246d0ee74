// Package gocloud is the sink driver for any gocloud.dev/pubsub topic URL:
// awssqs://, awssns://, gcppubsubv2://, kafka://, rabbit://, azuresb://,
// nats:// and mem://. The body is the event's data unchanged; the metadata
// carries the event's attributes (see event.Attributes).
package gocloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"

	// The drivers compiled in. natspubsub is core NATS (no JetStream): a
	// message sent while no subscriber listens is gone.
	_ "gocloud.dev/pubsub/awssnssqs"
	_ "gocloud.dev/pubsub/azuresb"
	_ "gocloud.dev/pubsub/gcppubsubv2"
	_ "gocloud.dev/pubsub/kafkapubsub"
	_ "gocloud.dev/pubsub/mempubsub"
	_ "gocloud.dev/pubsub/natspubsub"
	_ "gocloud.dev/pubsub/rabbitpubsub"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
)

// MaxBatch is how many events one Send hands to the topic at once; the
// gocloud driver batches them on the wire as its service allows.
const MaxBatch = 100

// Driver sends to one gocloud topic.
//
// gocloud's portable Topic retries a failed send itself, in the
// background, with backoff, until the topic shuts down, whenever the
// provider's driver calls the error retryable (rabbit and azuresb do;
// awssqs, awssns, gcppubsubv2, kafka, nats and mem never do, their SDKs
// retry inside one send instead). No option turns that off, so the driver
// sees every send through the message's BeforeSend hook: it counts them,
// refuses the topic's own retries (the dispatcher retries, on the sink's
// schedule), and refuses a send the caller has already given up on (a
// message still queued in the topic when Send timed out). A send already
// on the wire when Send times out can still land later: a duplicate of
// the dispatcher's retry, with the same id. azuresb's driver takes any
// unknown error as retryable, so refusing would only spin; there the hook
// just counts, and the topic's retries stand.
type Driver struct {
	sink.Base
	cfg   Config
	topic *pubsub.Topic
	// refuse is false where a refused send would itself be retried.
	refuse bool
	sends  atomic.Int64
}

var _ sink.Driver = (*Driver)(nil)

// New opens the topic URL with gocloud's default URL mux.
func New(ctx context.Context, cfg Config) (*Driver, error) { return Open(ctx, cfg, false) }

// Open opens the topic URL; guard, the requests of an AWS topic dial
// through the SSRF guard (an API sink without api.allow:
// [private_networks]).
func Open(ctx context.Context, cfg Config, guard bool) (*Driver, error) {
	u, _ := url.Parse(cfg.URL)
	var topic *pubsub.Topic
	var err error
	if guard && u != nil {
		topic, err = openGuarded(ctx, u)
	} else {
		topic, err = pubsub.OpenTopic(ctx, cfg.URL)
	}
	if err != nil {
		return nil, fmt.Errorf("gocloud: open %s: %w", cfg.URL, err)
	}
	refuse := u == nil || u.Scheme != "azuresb"
	return &Driver{cfg: cfg, topic: topic, Base: sink.NewBase(cfg.Timeout.D), refuse: refuse}, nil
}

// Sends is how many times the topic handed a message of this driver to
// its provider: more than the events sent when the topic retried.
func (d *Driver) Sends() int64 { return d.sends.Load() }

var (
	errTopicRetry = errors.New("gocloud: the topic retried a failed send on its own; refused, the dispatcher retries on the sink's schedule")
	errAbandoned  = errors.New("gocloud: the send was given up before the topic got to it; refused, so it cannot land late")
)

// sendHook is one message's BeforeSend: the topic calls it each time it
// hands the message to its provider, retries included.
type sendHook struct {
	ctx    context.Context
	refuse bool
	d      *Driver
	n      atomic.Int32 // calls, refused ones included
	sent   atomic.Int32 // sends let through
}

func (h *sendHook) before(func(any) bool) error {
	n := h.n.Add(1)
	if h.refuse {
		if h.ctx.Err() != nil {
			return errAbandoned
		}
		if n > 1 {
			return errTopicRetry
		}
	}
	h.sent.Add(1)
	h.d.sends.Add(1)
	return nil
}

// Send sends every event of the batch concurrently, so the topic can batch
// them, and reports each failure by index.
func (d *Driver) Send(ctx context.Context, batch []*event.Event) error {
	return d.Batch(ctx, len(batch), func(ctx context.Context, be *sink.BatchError) {
		call, cancel := d.Within(ctx) // the timeout is per send
		defer cancel()
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Go(func() {
				h := &sendHook{ctx: call, refuse: d.refuse, d: d}
				if err := d.topic.Send(call, &pubsub.Message{Body: e.Data, Metadata: e.Attributes(), BeforeSend: h.before}); err != nil {
					if n := h.sent.Load(); n > 1 {
						err = fmt.Errorf("%w (the topic sent it %d times)", err, n)
					}
					errs[i] = d.Failed(ctx, call, err, classify)
				}
			})
		}
		wg.Wait()
		be.FailEach(errs)
	})
}

// classify reads a failed send, neither canceled nor timed out.
func classify(err error) error {
	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		return sink.PermanentError(0, err)
	}
	switch gcerrors.Code(err) {
	case gcerrors.Canceled:
		return sink.CanceledError(err)
	case gcerrors.InvalidArgument, gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.FailedPrecondition, gcerrors.Unimplemented:
		return sink.PermanentError(0, err)
	}
	return sink.RetryableError(0, err)
}

// Close cancels sends in flight, waits for them, and shuts the topic down.
func (d *Driver) Close(ctx context.Context) error {
	return d.Lifecycle.Close(func() error { return d.topic.Shutdown(ctx) })
}
