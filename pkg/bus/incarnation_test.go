package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
)

// A consumer recreated by another replica is bound only by the same sink
// incarnation: one made since for a new sink of the name is refused.
func TestRecreateConsumerRefusesAnotherIncarnation(t *testing.T) {
	b, cfg := open(t)
	ctx := t.Context()
	mine, theirs := sinkCfg("race", "order.*"), sinkCfg("race", "order.*")
	mine.Incarnation, theirs.Incarnation = "api-1", "api-2"
	if _, err := b.RecreateConsumer(ctx, cfg.Stream.Name, bus.ConsumerConfig(theirs, 10), 0); err != nil {
		t.Fatal(err)
	}
	_, err := b.RecreateConsumer(ctx, cfg.Stream.Name, bus.ConsumerConfig(mine, 10), 7)
	var ie *bus.IncarnationError
	if !errors.Is(err, bus.ErrSinkReplaced) || !errors.As(err, &ie) || ie.Have != "api-2" {
		t.Fatalf("recreate over another incarnation's consumer: %v, want an IncarnationError naming api-2", err)
	}
	if _, err := b.RecreateConsumer(ctx, cfg.Stream.Name, bus.ConsumerConfig(theirs, 10), 7); err != nil {
		t.Errorf("recreate by the consumer's own incarnation: %v", err)
	}
	if bus.Retryable(err) {
		t.Error("another incarnation's consumer is retried")
	}
	// The server itself refuses a pull of the old incarnation to the
	// consumer, and serves the consumer's own.
	c, err := b.JS.Consumer(ctx, cfg.Stream.Name, "race")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.JS.Publish(ctx, "events.order.created", []byte("x")); err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(1, jetstream.FetchPriorityGroup(bus.IncarnationGroup("api-1")), jetstream.FetchMaxWait(time.Second))
	if err == nil {
		for range batch.Messages() {
			t.Error("another incarnation's pull was served a message")
		}
		err = batch.Error()
	}
	if !errors.Is(err, jetstream.ErrBadRequest) {
		t.Errorf("another incarnation's pull: %v, want a bad request", err)
	}
	batch, err = c.Fetch(1, jetstream.FetchPriorityGroup(bus.IncarnationGroup("api-2")), jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if n != 1 || batch.Error() != nil {
		t.Errorf("the consumer's own incarnation's pull got %d message(s), %v", n, batch.Error())
	}
}

// A consumer made before incarnations is adopted once (its metadata
// written, its position kept); after that, another incarnation is refused
// and the consumer is left as it was.
func TestEnsureConsumersAdoptsAConsumerWithoutIncarnation(t *testing.T) {
	b, cfg := open(t)
	ctx := t.Context()
	legacy := sinkCfg("old", "order.*")
	events, _, err := b.EnsureConsumers(ctx, legacy, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := bus.IncarnationOf(events.CachedInfo().Config); got != "" {
		t.Fatalf("a sink without incarnation made a consumer of incarnation %q", got)
	}
	for i := 0; i < 3; i++ {
		if _, err := b.JS.Publish(ctx, "events.order.created", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := events.Fetch(2)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	adopted := legacy
	adopted.Incarnation = "file-abc"
	events, redrive, err := b.EnsureConsumers(ctx, adopted, 10, 0)
	if err != nil {
		t.Fatalf("adopting a consumer made before incarnations: %v", err)
	}
	info, err := events.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := bus.IncarnationOf(info.Config); got != "file-abc" {
		t.Errorf("adopted consumer's incarnation %q, want file-abc", got)
	}
	if got := bus.IncarnationOf(redrive.CachedInfo().Config); got != "file-abc" {
		t.Errorf("adopted redrive consumer's incarnation %q, want file-abc", got)
	}
	if info.AckFloor.Stream != 2 || info.NumPending != 1 {
		t.Errorf("adopted consumer: ack floor %d, pending %d; want its position kept (2, 1)", info.AckFloor.Stream, info.NumPending)
	}
	other := legacy
	other.Incarnation = "api-xyz"
	if _, _, err := b.EnsureConsumers(ctx, other, 10, 0); !errors.Is(err, bus.ErrSinkReplaced) {
		t.Fatalf("another incarnation ensuring the adopted consumer: %v, want ErrSinkReplaced", err)
	}
	c, err := b.JS.Consumer(ctx, cfg.Stream.Name, "old")
	if err != nil {
		t.Fatal(err)
	}
	if got := bus.IncarnationOf(c.CachedInfo().Config); got != "file-abc" {
		t.Errorf("after a refused ensure the consumer's incarnation is %q", got)
	}
}
