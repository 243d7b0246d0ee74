package replicas

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
)

func stateKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	kv, err := js.JS.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// Heartbeats count each other through the bucket, and one that stops
// takes its key away at once, so the other counts itself alone again
// without waiting out three beats.
func TestHeartbeatsCountEachOtherAndStopRemovesTheKey(t *testing.T) {
	old := HeartbeatEvery
	HeartbeatEvery = 100 * time.Millisecond
	t.Cleanup(func() { HeartbeatEvery = old })
	kv := stateKV(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &Heartbeat{KV: kv, Log: log, AdminAddr: "127.0.0.1:8080"}
	b := &Heartbeat{KV: kv, Log: log, AdminAddr: "127.0.0.1:8080"}
	if a.Count() != 1 {
		t.Fatalf("count before any beat = %d, want 1", a.Count())
	}
	ca, cb := lifecycle.Go(a), lifecycle.Go(b)
	for _, c := range []*lifecycle.Component{ca, cb} {
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { _ = ca.Stop() }()
	testutil.WaitFor(t, 5*time.Second, "both counting two", func() bool { return a.Count() == 2 && b.Count() == 2 })
	_ = cb.Stop()
	keys, err := kv.ListKeysFiltered(context.Background(), key("*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n != 1 {
		t.Fatalf("%d replica keys after a Stop, want 1", n)
	}
	testutil.WaitFor(t, 2*time.Second, "the other counting one", func() bool { return a.Count() == 1 })
}

// Two replicas on one host and admin port get ids of their own.
func TestIDsDiffer(t *testing.T) {
	x, y := ID("0.0.0.0:8080"), ID("0.0.0.0:8080")
	if x == y {
		t.Fatalf("two ids alike: %s", x)
	}
	if !strings.Contains(x, "-8080-") {
		t.Errorf("id %q lacks the admin port", x)
	}
}
