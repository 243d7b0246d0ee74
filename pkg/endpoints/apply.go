package endpoints

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// watchTarget is the endpoints as the target of the sinks bucket's watch
// (apisinks.Watcher): each change is applied through the host.
type watchTarget struct{ e *Endpoints }

// Known lists the API sinks this replica has.
func (w watchTarget) Known() []string {
	w.e.mu.RLock()
	defer w.e.mu.RUnlock()
	names := make([]string, 0, len(w.e.api))
	for name := range w.e.api {
		names = append(names, name)
	}
	return names
}

func (w watchTarget) Apply(ctx context.Context, c apisinks.Change) { w.e.applyChange(ctx, c) }

// applyChange runs a change of an API sink (c.Deleted: deleted) through
// the host, unless this replica already has it.
func (e *Endpoints) applyChange(ctx context.Context, c apisinks.Change) {
	name, rev := c.Name, c.Rev
	defer e.changeOne(name)()
	e.mu.RLock()
	cur, had := e.api[name]
	file := e.file
	e.mu.RUnlock()
	if had && rev != 0 && cur.Rev >= rev || !had && c.Deleted {
		return
	}
	if !c.Deleted && rev != 0 && e.superseded(ctx, name, rev) {
		return
	}
	var next *apisinks.Sink
	if !c.Deleted {
		switch {
		case c.Err != nil:
			next = &apisinks.Sink{Rev: rev, Err: c.Err}
		case c.Rec.Op == apisinks.OpDelete:
			// The revision before a tombstone, saying who deleted it.
			if !had {
				return
			}
		default:
			next = apisinks.Build(e.kinds, e.keyed(), name, c.Rec, rev, file)
		}
	}
	if err := e.swap(ctx, name, next); err != nil {
		e.log.Error("apply API sink", "sink", name, "err", err)
	}
}

// superseded reports whether revision rev of an API sink is no longer its
// latest: the watch delivers it after the sink was changed again or
// deleted (by this very replica, say). Applying it would bring a deleted
// sink back, and make its consumer again after the delete cleaned the
// name; what superseded it follows in the watch. Not knowing (the bucket
// not answering), it is applied: a stale record is corrected by the next
// change the watch delivers, a lost one is not.
func (e *Endpoints) superseded(ctx context.Context, name string, rev uint64) bool {
	latest, err := e.store.Revision(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true
	}
	return err == nil && latest > rev
}

// swap makes next (nil: none) the API sink called name and applies it
// through the host, that one sink alone. change is held.
func (e *Endpoints) swap(ctx context.Context, name string, next *apisinks.Sink) error {
	if next != nil && next.Err != nil {
		e.reportUnstarted(name, next)
	}
	if !e.host.Running() {
		return gatewayapi.ErrNotRunning
	}
	// The record is in place before the sink swaps, so a read never
	// pairs a new sink with its old record.
	e.mu.Lock()
	prev := e.putLocked(name, next)
	e.mu.Unlock()
	restore := func() {
		e.mu.Lock()
		e.putLocked(name, prev)
		e.mu.Unlock()
	}
	err := e.host.ApplySink(ctx, name, e.runs(name, next))
	if err != nil && next != nil && next.Err == nil {
		// It could not start (its consumer could not be made): it shows
		// as failed, and the rest of the sinks stay as they are.
		failed := *next
		failed.Err = err
		e.mu.Lock()
		e.putLocked(name, &failed)
		e.mu.Unlock()
		if err2 := e.host.ApplySink(ctx, name, nil); err2 != nil {
			restore()
			e.published()
			return err2
		}
	} else if err != nil {
		restore()
		e.published()
		return err
	}
	e.published()
	return err
}

// runs is what the host should run under name once a is the API sink
// of that name (nil: none): its definition when it may run, else none,
// unless the config file has a sink of that name, which runs whatever
// the API sink is.
func (e *Endpoints) runs(name string, a *apisinks.Sink) *config.Sink {
	if e.inFile(name) {
		if s, ok := e.host.Sink(name); ok {
			return &s // the file's: left as it runs
		}
	}
	if a == nil || a.Err != nil {
		return nil
	}
	s := a.Config
	return &s
}
