package pauses

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
)

func store(t *testing.T) Store {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	kv, err := js.JS.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	return Store{KV: kv, Retry: &bus.Retrier{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// A pause is read back with its reason until it is resumed; resuming a
// sink that is not paused is no error.
func TestPauseReadResume(t *testing.T) {
	s, ctx := store(t), context.Background()
	if _, paused, err := s.Read(ctx, "a"); err != nil || paused {
		t.Fatalf("Read before a pause = %v, %v", paused, err)
	}
	if err := s.Pause(ctx, "a", "maintenance"); err != nil {
		t.Fatal(err)
	}
	if reason, paused, err := s.Read(ctx, "a"); err != nil || !paused || reason != "maintenance" {
		t.Fatalf("Read = %q, %v, %v; want maintenance, true", reason, paused, err)
	}
	for range 2 {
		if err := s.Resume(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, paused, _ := s.Read(ctx, "a"); paused {
		t.Fatal("still paused after Resume")
	}
}

type target struct {
	mu     sync.Mutex
	events []string
}

func (t *target) Paused(sink, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, "pause "+sink+": "+reason)
}

func (t *target) Resumed(sink string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, "resume "+sink)
}

func (t *target) seen() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.events...)
}

// The watcher applies the pauses and resumes recorded after it started
// (another replica's), not those before: the caller applied those.
func TestWatcherAppliesLaterChanges(t *testing.T) {
	s, ctx := store(t), context.Background()
	if err := s.Pause(ctx, "old", "before"); err != nil {
		t.Fatal(err)
	}
	tg := &target{}
	w := lifecycle.Go(&Watcher{Store: s, Target: tg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	// The watch starts in the background: pause until it shows.
	testutil.WaitFor(t, 5*time.Second, "the pause applied", func() bool {
		if err := s.Pause(ctx, "a", "by replica 2"); err != nil {
			t.Fatal(err)
		}
		return len(tg.seen()) > 0
	})
	if err := s.Resume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the resume applied", func() bool {
		seen := tg.seen()
		return seen[len(seen)-1] == "resume a"
	})
	for _, e := range tg.seen() {
		if e != "pause a: by replica 2" && e != "resume a" {
			t.Errorf("applied %q: a pause from before the watch, or a stranger", e)
		}
	}
}
