package shared_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// lateSinks knows its one sink only once told: a replica whose API
// sinks are still loading.
type lateSinks struct {
	mu    sync.Mutex
	inc   string
	t     *target
	known bool
}

func (s *lateSinks) SharedTarget(inc string) (shared.Target, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known || inc != s.inc {
		return nil, false
	}
	return s.t, true
}

// A record whose sink this replica does not run yet, while its sinks are
// not current (still loading after a restart), comes back until they are,
// however often it was delivered before (kills, a long load): it is taken
// for a deleted sink's, and dropped, only once the replica's sinks are
// current. Before, a record delivered unknownTries times was dropped
// whatever the replica's sinks were.
func TestARecordOfASinkNotLoadedYetIsNotDropped(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	b, _ := testutil.OpenBus(t, js, nil)
	const inc = "api-late"
	ctx := context.Background()
	rec := &nats.Msg{Subject: subject.Due(inc), Data: []byte(`{"n":1}`), Header: nats.Header{}}
	rec.Header.Set(event.HeaderEventID, "late-1")
	rec.Header.Set(shared.HeaderPublished, time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := js.JS.PublishMsg(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Delivered 25 times already (replicas killed while holding it, or
	// a load longer than the unknown record's back-off).
	cons, err := (&shared.Deliverer{}).EnsureConsumer(ctx, js.JS, subject.Partition(inc))
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range b.Messages() {
			got++
			_ = m.Nak()
		}
		if got != 1 {
			t.Fatalf("fetched %d records, want 1 (%v)", got, b.Error())
		}
	}

	s := &lateSinks{inc: inc, t: &target{room: 8, ids: map[string]int{}}}
	var current atomic.Bool
	asked := make(chan struct{}, 1)
	d := &shared.Deliverer{Conn: b.Conn, Sinks: s, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Current: func(context.Context) (bool, error) {
			select {
			case asked <- struct{}{}:
			default:
			}
			return current.Load(), nil
		}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	st, err := js.JS.Stream(ctx, event.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	held := func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the deliverer never asked whether its sinks are current")
	}
	testutil.Holds(t, time.Second, "the record kept while the replica's sinks load", held)
	s.mu.Lock()
	s.known = true
	s.mu.Unlock()
	current.Store(true)
	testutil.WaitFor(t, 15*time.Second, "the record delivered once its sink runs", func() bool { n, _ := s.t.count(); return n == 1 })
}
