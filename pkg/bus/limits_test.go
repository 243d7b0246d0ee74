package bus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
)

// A JetStream limit reached, as the server answers it, is a
// *bus.LimitError naming the limit and its value; any other error is
// left as it is.
func TestLimitReached(t *testing.T) {
	ctx := t.Context()
	srv := testutil.StartJetStream(t, func(o *server.Options) { o.JetStreamMaxStore = 1 << 20 })
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// Storage: a stream asking for more than the server has.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "BIG", Subjects: []string{"big.>"}, MaxBytes: 64 << 20})
	var le *bus.LimitError
	if !errors.As(bus.LimitReached(ctx, js, "BIG", 0, err), &le) || !strings.HasPrefix(le.Error(), "JetStream file storage (the account's max_storage or the server's max_file_store) reached: ") {
		t.Fatalf("storage: %v -> %v", err, bus.LimitReached(ctx, js, "BIG", 0, err))
	}

	// Consumers: a stream capped at one, the value read from the stream.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ONE", Subjects: []string{"one.>"}, MaxConsumers: 1, MaxBytes: 1 << 10}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		_, err := js.CreateConsumer(ctx, "ONE", jetstream.ConsumerConfig{Durable: name})
		got := bus.LimitReached(ctx, js, "ONE", 0, err)
		if i == 0 && got != nil {
			t.Fatal(got)
		}
		if i == 1 && (!errors.As(got, &le) || !strings.HasPrefix(le.Error(), "stream.max_consumers (1) reached: ") || !errors.Is(got, jetstream.ErrMaximumConsumersLimit)) {
			t.Fatalf("second consumer: %v", got)
		}
	}

	other := errors.New("not a limit")
	if got := bus.LimitReached(ctx, js, "ONE", 0, other); got != other {
		t.Fatalf("another error became %v", got)
	}
}
