package apisinks

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
)

// Change is one change of the sinks bucket: a revision put, or a delete.
// A delete with Rev 0 is a sink the bucket no longer had when the watch
// (re)started.
type Change struct {
	Entry
	Deleted bool
}

// Target is what the watch applies the bucket's changes to: the API sinks
// a replica runs.
type Target interface {
	// Known lists the API sinks the target has.
	Known() []string
	// Apply applies one change; it skips revisions it has.
	Apply(ctx context.Context, c Change)
}

// Watcher is the watch of the sinks bucket as a component: between Start
// and Stop it applies to Target the changes any replica makes (Watch).
type Watcher struct {
	Store  *Store
	Target Target
	w      lifecycle.Worker
}

// Start watches until ctx ends or Stop.
func (w *Watcher) Start(ctx context.Context) error {
	return w.w.Start(ctx, func(ctx context.Context) { w.Store.Watch(ctx, w.Target) })
}

// Stop ends the watch and waits for a change being applied.
func (w *Watcher) Stop() error { return w.w.Stop() }

// Watch applies to t the changes any replica makes to the sinks bucket,
// until ctx ends. The watch starts with every current value, so a change
// made between start-up and this watch is not missed; t skips revisions
// it already applied. A watch that fails is started again.
func (s *Store) Watch(ctx context.Context, t Target) {
	for ctx.Err() == nil {
		if err := s.watchOnce(ctx, t); err != nil && ctx.Err() == nil {
			s.Log.Error("watch API sinks; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (s *Store) watchOnce(ctx context.Context, t Target) error {
	// What the bucket held before the watch: all of it is applied once
	// the watch's current values are.
	before, err := s.lastSeq(ctx)
	if err != nil {
		return err
	}
	w, err := s.KV.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	initial, seen := true, map[string]bool{}
	var newest uint64 // the newest revision among the current values
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case e0, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			e = e0
		}
		if e == nil { // the current values are all in: anything not seen was deleted meanwhile
			initial = false
			var gone []string
			for _, name := range t.Known() {
				if !seen[name] {
					gone = append(gone, name)
				}
			}
			for _, name := range gone {
				t.Apply(ctx, Change{Entry: Entry{Name: name}, Deleted: true})
			}
			s.appliedThrough(max(before, newest))
			continue
		}
		name := e.Key()
		if initial {
			seen[name] = true
		}
		switch e.Operation() {
		case jetstream.KeyValuePut:
			t.Apply(ctx, Change{Entry: s.entry(e)})
		default:
			t.Apply(ctx, Change{Entry: Entry{Name: name, Rev: e.Revision()}, Deleted: true})
		}
		if initial {
			newest = max(newest, e.Revision())
		} else {
			s.appliedThrough(e.Revision())
		}
	}
}

func (s *Store) appliedThrough(seq uint64) {
	for {
		cur := s.applied.Load()
		if seq <= cur || s.applied.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// lastSeq is the bucket stream's last sequence.
func (s *Store) lastSeq(ctx context.Context) (uint64, error) {
	st, err := s.KV.Status(ctx)
	if err != nil {
		return 0, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, errors.New("apisinks: the bucket's status has no stream info")
	}
	return bs.StreamInfo().State.LastSeq, nil
}

// Current reports whether this replica's watch has applied every change
// the bucket held when Current was called: a sink created (through any
// replica) before then runs here. Shared delivery's matchers ask before
// they match events, so that an event published after a sink's create
// is handed on to it whichever replica matches it.
func (s *Store) Current(ctx context.Context) (bool, error) {
	last, err := s.lastSeq(ctx)
	if err != nil {
		return false, err
	}
	return s.applied.Load() >= last, nil
}
