package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// newIdle is a gateway built and never run, closed at the end of the test.
func newIdle(t *testing.T) *Gateway {
	t.Helper()
	g, err := New(context.Background(), internalConfig(t, t.TempDir(), "1s", "a"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.close(context.Background()) })
	return g
}

// A reload before Run says the gateway is not running; it never panics.
func TestReloadBeforeRunIsNotRunning(t *testing.T) {
	g := newIdle(t)
	next := internalConfig(t, t.TempDir(), "1s", "a", "b")
	if _, err := g.Reload(context.Background(), next, false); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Reload before Run = %v, want ErrNotRunning", err)
	}
}

// A replay before Run says the gateway is not running; it never panics,
// and an unknown sink is still reported as one.
func TestStartReplayBeforeRunIsNotRunning(t *testing.T) {
	g := newIdle(t)
	req := gatewayapi.ReplayRequest{Since: time.Now().Add(-time.Hour)}
	if _, err := g.Admin().Replays.StartReplay(context.Background(), "a", req); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("StartReplay before Run = %v, want ErrNotRunning", err)
	}
	if _, err := g.Admin().Replays.StartReplay(context.Background(), "nope", req); !errors.Is(err, gatewayapi.ErrUnknownSink) {
		t.Fatalf("StartReplay of an unknown sink = %v, want ErrUnknownSink", err)
	}
	if got := g.Admin().Replays.Replays(); len(got) != 0 {
		t.Fatalf("replays after a refused start: %v", got)
	}
}

// Run returns only once every replay's watcher has ended it: none is left
// running, and no replay consumer outlives the gateway's stop.
func TestRunJoinsReplays(t *testing.T) {
	g := newIdle(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	testutil.WaitFor(t, 10*time.Second, "Run started", g.running.Load)
	// The sink's endpoint never answers: the replay stays running.
	for i := 0; i < 3; i++ {
		if _, err := g.bus.JS.Publish(context.Background(), subject.Event("order.created"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := g.Admin().Replays.StartReplay(context.Background(), "a", gatewayapi.ReplayRequest{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "running" {
		t.Fatalf("replay state %q, want running", st.State)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	got, err := g.replays.Replay(st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "canceled" || got.Finished == nil {
		t.Fatalf("after Run returned, replay = %+v, want canceled and finished", got)
	}
	if _, err := g.Admin().Replays.StartReplay(context.Background(), "a", gatewayapi.ReplayRequest{Since: time.Now().Add(-time.Hour)}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("StartReplay after Run = %v, want ErrNotRunning", err)
	}
}
