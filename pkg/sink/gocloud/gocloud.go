// Package gocloud is the sink driver for any gocloud.dev/pubsub topic URL:
// awssqs://, awssns://, gcppubsubv2://, kafka://, rabbit://, azuresb://,
// nats:// and mem://. The body is the event's data unchanged; the metadata
// carries the event's attributes (see event.Attributes).
package gocloud

import (
	"context"
	"fmt"
	"sync"

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
)

// MaxBatch is how many events one Send hands to the topic at once; the
// gocloud driver batches them on the wire as its service allows.
const MaxBatch = 100

// Driver sends to one gocloud topic.
type Driver struct {
	sink.Base
	cfg   Config
	topic *pubsub.Topic
}

var _ sink.Driver = (*Driver)(nil)

// New opens the topic URL with gocloud's default URL mux.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	topic, err := pubsub.OpenTopic(ctx, cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("gocloud: open %s: %w", cfg.URL, err)
	}
	return &Driver{cfg: cfg, topic: topic, Base: sink.NewBase(MaxBatch)}, nil
}

// Send sends every event of the batch concurrently, so the topic can batch
// them, and reports each failure by index.
func (d *Driver) Send(ctx context.Context, batch []*event.Event) error {
	return d.Batch(ctx, d.cfg.Timeout.D, len(batch), func(ctx context.Context, be *sink.BatchError) {
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Go(func() {
				if err := d.topic.Send(ctx, &pubsub.Message{Body: e.Data, Metadata: e.Attributes()}); err != nil {
					errs[i] = classify(ctx, err)
				}
			})
		}
		wg.Wait()
		be.FailEach(errs)
	})
}

func classify(ctx context.Context, err error) error {
	if c, ok := sink.CanceledBy(ctx, err); ok {
		return c
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
