package ackfloor

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
)

type sinks []Sink

func (s sinks) AckFloorSinks() []Sink { return s }

// setup is a state bucket and a consumer of stream S whose first n
// events are acked.
func setup(t *testing.T, n int) (jetstream.KeyValue, jetstream.Consumer) {
	t.Helper()
	js, kv, c := stream(t)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(ctx, "s.x", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.Fetch(n)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return kv, c
}

// stream is a state bucket and a consumer of the empty stream S.
func stream(t *testing.T) (jetstream.JetStream, jetstream.KeyValue, jetstream.Consumer) {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	ctx := context.Background()
	kv, err := js.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	c, err := js.JS.CreateConsumer(ctx, "S", jetstream.ConsumerConfig{Durable: "a", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	return js.JS, kv, c
}

// The recorder writes a sink's ack floor tagged with its incarnation, and
// Read gives it back to that incarnation only.
func TestRecordedFloorIsReadByItsIncarnationOnly(t *testing.T) {
	old := Every
	Every = 50 * time.Millisecond
	t.Cleanup(func() { Every = old })
	kv, c := setup(t, 3)
	r := lifecycle.Go(&Recorder{KV: kv, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sinks: sinks{{Name: "a", Incarnation: "api-1", Settled: 3, Consumer: c}}})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	retry := &bus.Retrier{}
	testutil.WaitFor(t, 5*time.Second, "the floor recorded", func() bool {
		return Read(context.Background(), kv, retry, "a", "api-1") == 3
	})
	_ = r.Stop()
	if got := Read(context.Background(), kv, retry, "a", "api-2"); got != 0 {
		t.Errorf("another incarnation read floor %d, want 0", got)
	}
	if got := Read(context.Background(), kv, retry, "b", ""); got != 0 {
		t.Errorf("a sink never recorded read floor %d, want 0", got)
	}
	// A floor recorded before incarnations is the sink's own.
	if _, err := kv.Put(context.Background(), Key("a"), []byte("7")); err != nil {
		t.Fatal(err)
	}
	if got := Read(context.Background(), kv, retry, "a", "api-2"); got != 7 {
		t.Errorf("untagged floor read as %d, want 7", got)
	}
}

// Stop records once more: what was settled since the last round is not
// lost to the ticker.
func TestStopRecordsTheLastRound(t *testing.T) {
	old := Every
	Every = time.Hour
	t.Cleanup(func() { Every = old })
	kv, c := setup(t, 2)
	r := lifecycle.Go(&Recorder{KV: kv, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sinks: sinks{{Name: "a", Settled: 2, Consumer: c}}})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = r.Stop()
	if got := Read(context.Background(), kv, &bus.Retrier{}, "a", ""); got != 2 {
		t.Fatalf("floor after Stop = %d, want 2", got)
	}
}

// countingConsumer is a real consumer whose Info reads are counted, so a
// test knows how many rounds the recorder has made.
type countingConsumer struct {
	jetstream.Consumer
	reads atomic.Int64
}

func (c *countingConsumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	defer c.reads.Add(1) // a read counts once it has been answered
	return c.Consumer.Info(ctx)
}

// A sink's settles are counted before their acks reach the server: a round
// that reads the floor in between (here: none of the settled events acked
// yet) must not mark the sink idle, or its floor is never recorded and a
// consumer lost later restarts at "now", past events it never delivered.
func TestFloorIsRecordedWhenTheAcksLandAfterTheSettles(t *testing.T) {
	old := Every
	Every = 20 * time.Millisecond
	t.Cleanup(func() { Every = old })
	js, kv, c := stream(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := js.Publish(ctx, "s.x", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := c.Fetch(2)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	cc := &countingConsumer{Consumer: c}
	r := lifecycle.Go(&Recorder{KV: kv, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sinks: sinks{{Name: "a", Settled: 2, Consumer: cc}}})
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	testutil.WaitFor(t, 5*time.Second, "a round that read the floor before the acks", func() bool { return cc.reads.Load() >= 1 })
	for _, m := range msgs {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "the floor recorded once the acks landed", func() bool {
		return Read(ctx, kv, &bus.Retrier{}, "a", "") == 2
	})
}
