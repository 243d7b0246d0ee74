package consumers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// current answers StillCurrent with err.
type current struct{ err error }

func (c current) StillCurrent(context.Context, config.Sink) error { return c.err }

func keeper(t *testing.T, cur Current) (*Keeper, jetstream.KeyValue) {
	t.Helper()
	b, cfg := testutil.OpenBus(t, testutil.StartJetStream(t, nil), nil)
	kv, err := b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	hb, err := dispatch.NewHandbacks(t.Context(), b.JS, kv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &Keeper{Bus: b, Stream: cfg.Stream.Name, Handbacks: hb, State: kv, Retry: &bus.Retrier{Log: log}, Current: cur, Log: log}, kv
}

func sinkCfg(name, incarnation string) config.Sink {
	s := config.SinkDefaults(nil)
	s.Name, s.Events, s.Incarnation = name, []string{"order.*"}, incarnation
	s.AckWait.D = 30 * time.Second
	return s
}

// A file sink never takes over an API sink's consumer of its name: the
// error says how to free the name.
func TestFileSinkRefusesAnAPISinksConsumer(t *testing.T) {
	k, _ := keeper(t, current{})
	ctx := t.Context()
	if _, _, err := k.Ensure(ctx, sinkCfg("a", "api-1"), 10); err != nil {
		t.Fatal(err)
	}
	_, _, err := k.Ensure(ctx, sinkCfg("a", apisinks.FileIncarnation("a")), 10)
	var ie *bus.IncarnationError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "belongs to the API sink a") {
		t.Fatalf("Ensure of a file sink over an API sink's consumer = %v", err)
	}
}

// An API sink that is its name's current one clears what an earlier API
// sink of the name left and starts clean; one that is not fails.
func TestCurrentAPISinkClearsAnEarlierOnesConsumers(t *testing.T) {
	k, _ := keeper(t, current{})
	ctx := t.Context()
	if _, _, err := k.Ensure(ctx, sinkCfg("a", "api-1"), 10); err != nil {
		t.Fatal(err)
	}
	ev, _, err := k.Ensure(ctx, sinkCfg("a", "api-2"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.CheckIncarnation(ev.CachedInfo(), "api-2"); err != nil {
		t.Fatalf("the new sink's consumer: %v", err)
	}
	k.Current = current{err: bus.ErrSinkReplaced}
	if _, _, err := k.Ensure(ctx, sinkCfg("a", "api-3"), 10); err == nil {
		t.Fatal("a sink no longer current took the name's consumers")
	}
}

// Delete removes both consumers of each name.
func TestDeleteRemovesBothConsumers(t *testing.T) {
	k, _ := keeper(t, current{})
	ctx := t.Context()
	for _, name := range []string{"a", "b"} {
		if _, _, err := k.Ensure(ctx, sinkCfg(name, "api-1"), 10); err != nil {
			t.Fatal(err)
		}
	}
	k.Delete(ctx, "test", "a", "b")
	for _, c := range []struct{ stream, name string }{{k.Stream, "a"}, {bus.RedriveStream, subject.RedriveConsumer("a")}, {k.Stream, "b"}, {bus.RedriveStream, subject.RedriveConsumer("b")}} {
		if _, err := k.Bus.JS.Consumer(ctx, c.stream, c.name); !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Errorf("consumer %s after Delete: %v", c.name, err)
		}
	}
}

// A lost events consumer comes back after its incarnation's recorded ack
// floor; a sink deleted meanwhile is not brought back.
func TestRecreateResumesAfterTheAckFloor(t *testing.T) {
	k, kv := keeper(t, current{})
	ctx := t.Context()
	s := sinkCfg("a", "api-1")
	ev, _, err := k.Ensure(ctx, s, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, ackfloor.Key("a"), []byte("5 api-1")); err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.JS.DeleteConsumer(ctx, k.Stream, "a"); err != nil {
		t.Fatal(err)
	}
	c, err := k.Recreate(s, 10)(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if cc := c.CachedInfo().Config; cc.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cc.OptStartSeq != 6 {
		t.Fatalf("recreated with %v from %d, want from sequence 6", cc.DeliverPolicy, cc.OptStartSeq)
	}
	k.Current = current{err: bus.ErrSinkReplaced}
	if _, err := k.Recreate(s, 10)(ctx, ev); !errors.Is(err, bus.ErrSinkReplaced) {
		t.Fatalf("Recreate of a replaced sink = %v", err)
	}
}
