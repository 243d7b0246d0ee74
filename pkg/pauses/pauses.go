// Package pauses keeps the sinks' pauses in the state bucket, so that a
// pause holds for every replica and across restarts: the Store records and
// reads them, and each gateway's Watcher applies those made through any
// replica.
package pauses

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// record is a paused sink's entry in the state bucket.
type record struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Key is a sink's pause key in the state bucket.
func Key(sink string) string { return "sinks." + subject.Token(sink) + ".paused" }

// KV is what pauses need of the state bucket.
type KV interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Store records and reads the pauses. Retry waits out cluster elections.
type Store struct {
	KV    KV
	Retry *bus.Retrier
}

// Pause records that sink is paused, and why.
func (s Store) Pause(ctx context.Context, sink, reason string) error {
	b, _ := json.Marshal(record{Reason: reason, At: time.Now().UTC()})
	_, err := s.KV.Put(ctx, Key(sink), b)
	return err
}

// Resume removes sink's pause; one that was not paused is no error.
func (s Store) Resume(ctx context.Context, sink string) error {
	if err := s.KV.Delete(ctx, Key(sink)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	return nil
}

// Read says whether sink is paused, and why.
func (s Store) Read(ctx context.Context, sink string) (reason string, paused bool, err error) {
	var e jetstream.KeyValueEntry
	err = s.Retry.Do(ctx, "pause state of "+sink, func(ctx context.Context) (err error) {
		e, err = s.KV.Get(ctx, Key(sink))
		return err
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return decode(e.Value()), true, nil
}

func decode(b []byte) string {
	var rec record
	_ = json.Unmarshal(b, &rec)
	return rec.Reason
}

// Target applies the pauses the Watcher sees to the running sinks.
type Target interface {
	Paused(sink, reason string)
	Resumed(sink string)
}

// Watcher applies pauses and resumes made through any replica while Run
// runs. A watch that cannot start yet (the cluster electing) or
// that ends is started again: a replica that stopped watching would
// deliver for a sink the others hold paused.
type Watcher struct {
	Store  Store
	Target Target
	Log    *slog.Logger
}

// Run watches until ctx ends. The first watch takes only updates: the
// caller applied the bucket before.
func (pw *Watcher) Run(ctx context.Context) {
	// A watch started again takes the bucket's entries too (delete
	// markers included), which covers what changed while none ran.
	opts := []jetstream.WatchOpt{jetstream.UpdatesOnly()}
	for ctx.Err() == nil {
		var w jetstream.KeyWatcher
		err := pw.Store.Retry.Do(ctx, "watch pause state", func(context.Context) (err error) {
			// The watch lives on ctx, not the attempt's context.
			w, err = pw.Store.KV.Watch(ctx, "sinks.*.paused", opts...)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				pw.Log.Error("watch pause state", "err", err)
				bus.Sleep(ctx, bus.RetryCap)
			}
			continue
		}
		opts = nil
		pw.apply(w)
		_ = w.Stop()
	}
}

// apply applies a watch's updates until it ends.
func (pw *Watcher) apply(w jetstream.KeyWatcher) {
	for e := range w.Updates() {
		if e == nil {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(e.Key(), "sinks."), ".paused")
		if e.Operation() == jetstream.KeyValuePut {
			pw.Target.Paused(name, decode(e.Value()))
		} else {
			pw.Target.Resumed(name)
		}
	}
}
