package apisinks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// newStore is a store on the sinks and state buckets of an embedded
// JetStream, sealing with sealer (nil: plain).
func newStore(t *testing.T, sealer *Sealer) *Store {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	b, _ := testutil.OpenBus(t, js, nil)
	kv, err := b.SinksKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &Store{KV: kv, State: state, Sealer: sealer, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func spec(name string) json.RawMessage {
	return json.RawMessage(`{"name":"` + name + `","webhook":{"url":"http://127.0.0.1:1","secrets":["whsec_x"]}}`)
}

// Create, update over the revision read, delete with a revision saying
// who deleted it, and the history that shows each, redacted.
func TestStoreLifecycle(t *testing.T) {
	s := newStore(t, newTestSealer(t, 1))
	ctx := t.Context()
	now := time.Now().UTC()
	rev, err := s.Create(ctx, "a", Record{Spec: spec("a"), Op: "create", Actor: "ann", At: now, CreatedAt: now, IncarnationID: NewIncarnation()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "a", Record{Spec: spec("a"), Op: "create"}); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("second create: %v, want ErrKeyExists", err)
	}
	raw, err := s.KV.Get(ctx, "a")
	if err != nil || bytes.Contains(raw.Value(), []byte("whsec_x")) {
		t.Fatalf("stored record shows its secret, or cannot be read: %v", err)
	}
	e, err := s.Get(ctx, "a")
	if err != nil || e.Err != nil || e.Rev != rev || string(e.Rec.Spec) != string(spec("a")) || e.Rec.Plain() {
		t.Fatalf("get: %+v %v", e, err)
	}
	rec := e.Rec
	rec.Op, rec.Actor = "update", "bob"
	if _, err := s.Update(ctx, "a", rec, rev+10); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("update over a stale revision: %v, want ErrKeyExists", err)
	}
	rev2, err := s.Update(ctx, "a", rec, rev)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Revision(ctx, "a"); err != nil || got != rev2 {
		t.Fatalf("revision %d %v, want %d", got, err, rev2)
	}
	if tr, err := s.Trace(ctx, "a"); err != nil || !tr.Held || !tr.Used {
		t.Fatalf("trace of a held name: %+v %v", tr, err)
	}
	if err := s.Delete(ctx, Entry{Name: "a", Rec: rec, Rev: rev}, "carl"); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("delete over a stale revision: %v, want ErrKeyExists", err)
	}
	e, _ = s.Get(ctx, "a")
	if err := s.Delete(ctx, e, "carl"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if tr, err := s.Trace(ctx, "a"); err != nil || tr.Held || !tr.Used || tr.At.IsZero() {
		t.Fatalf("trace of a deleted name: %+v %v", tr, err)
	}
	if tr, err := s.Trace(ctx, "never"); err != nil || tr.Used {
		t.Fatalf("trace of an unused name: %+v %v", tr, err)
	}
	h, err := s.History(ctx, "a", func(doc map[string]any) *config.Sink {
		name, _ := doc["name"].(string)
		return &config.Sink{Name: name, Description: "redacted"}
	})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range h {
		ops = append(ops, r.Op+"/"+r.Actor)
	}
	if want := []string{"create/ann", "update/bob", "delete/carl", "delete/"}; !slices.Equal(ops, want) {
		t.Fatalf("history %v, want %v", ops, want)
	}
	if h[0].Sink == nil || h[0].Sink.Description != "redacted" || h[3].Sink != nil {
		t.Fatalf("history specs not redacted, or a tombstone with one: %+v", h)
	}
	if _, err := s.History(ctx, "never", nil); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("history of an unused name: %v", err)
	}
}

// The first start with a key seals the plain records once and leaves a
// marker: a plain record written later stays plain (refused by its
// reader), and a record sealed under another key is unreadable.
func TestStoreSealPlainOnce(t *testing.T) {
	plain := newStore(t, nil)
	ctx := t.Context()
	if _, err := plain.Create(ctx, "a", Record{Spec: spec("a"), Op: "create"}); err != nil {
		t.Fatal(err)
	}
	if err := plain.SealPlain(ctx); err != nil {
		t.Fatal(err)
	}
	if e, _ := plain.Get(ctx, "a"); !e.Rec.Plain() {
		t.Fatal("sealed without a key")
	}
	keyed := &Store{KV: plain.KV, State: plain.State, Sealer: newTestSealer(t, 1), Log: plain.Log}
	if err := keyed.SealPlain(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := keyed.Get(ctx, "a")
	if err != nil || e.Err != nil || e.Rec.Plain() || e.Rec.Op != "seal" || string(e.Rec.Spec) != string(spec("a")) {
		t.Fatalf("after the first start with a key: %+v %v", e, err)
	}
	if _, err := plain.Create(ctx, "b", Record{Spec: spec("b"), Op: "create"}); err != nil {
		t.Fatal(err)
	}
	if err := keyed.SealPlain(ctx); err != nil {
		t.Fatal(err)
	}
	if e, _ := keyed.Get(ctx, "b"); !e.Rec.Plain() {
		t.Fatal("a plain record written after the first start with the key was sealed")
	}
	other := &Store{KV: plain.KV, State: plain.State, Sealer: newTestSealer(t, 2), Log: plain.Log}
	if e, err := other.Get(ctx, "a"); err != nil || e.Err == nil {
		t.Fatalf("a record sealed under another key read: %+v %v", e, err)
	}
	all, err := other.All(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("all: %d %v", len(all), err)
	}
}

// recorder is a watch target that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	known   []string
	changes []Change
}

func (r *recorder) Known() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.known)
}

func (r *recorder) Apply(_ context.Context, c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) seen(name string, deleted bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.changes {
		if c.Name == name && c.Deleted == deleted {
			return true
		}
	}
	return false
}

// The watch hands the target every current record, then each change; a
// sink the target knows but the bucket no longer has is handed over as
// deleted once the current records are in. Stop ends it.
func TestStoreWatch(t *testing.T) {
	s := newStore(t, newTestSealer(t, 1))
	ctx := t.Context()
	if _, err := s.Create(ctx, "a", Record{Spec: spec("a"), Op: "create"}); err != nil {
		t.Fatal(err)
	}
	r := &recorder{known: []string{"a", "gone"}}
	w := &Watcher{Store: s, Target: r}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the current record and the missed delete", func() bool {
		return r.seen("a", false) && r.seen("gone", true)
	})
	rev, err := s.Create(ctx, "b", Record{Spec: spec("b"), Op: "create"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "b", rev); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "b's create and delete", func() bool {
		return r.seen("b", false) && r.seen("b", true)
	})
	r.mu.Lock()
	for _, c := range r.changes {
		if c.Name == "a" && (c.Err != nil || string(c.Rec.Spec) != string(spec("a"))) {
			t.Errorf("a's record handed over unreadable: %+v", c)
		}
		if c.Name == "gone" && c.Rev != 0 {
			t.Errorf("a sink missed while not watching is handed over with revision %d", c.Rev)
		}
	}
	r.mu.Unlock()
	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop() }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end at Stop")
	}
	// Stopped, it applies nothing more.
	n := len(r.changes)
	if _, err := s.Create(ctx, "c", Record{Spec: spec("c"), Op: "create"}); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(ctx, "c"); err != nil || e.Err != nil {
		t.Fatalf("c: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) != n {
		t.Fatalf("a stopped watch applied %v", r.changes[n:])
	}
}
