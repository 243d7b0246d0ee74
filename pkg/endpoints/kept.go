package endpoints

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// A reload without --prune stops a removed config-file sink and keeps its
// durable consumer (its position and backlog) on purpose, so that putting
// the sink back resumes it. That kept state holds the sink's name: an API
// sink must not take the name over (creating one cleans the name's
// consumer, dead letters and ack floor), until a reload with --prune
// frees it.

// errKeptState answers a create over a removed file sink's kept state.
func errKeptState(name string) error {
	return gatewayapi.Conflictf("sink %q: a removed config-file sink's kept state (its consumer and backlog, kept by a reload without --prune) holds this name; "+
		"`switchyard run --prune` (then a reload: SIGHUP or a change of the file) or any reload with --prune frees it", name)
}

// sinkConsumerDescription marks the events consumer Switchyard made for
// the sink called name (bus.ConsumerConfig).
func sinkConsumerDescription(name string) string { return "Switchyard sink " + name }

// checkNameFree refuses to create an API sink called name while the name
// is held: by an API sink this replica has not seen yet (its record is in
// the bucket), or by a removed file sink's kept consumer. A consumer left
// by a deleted API sink (its incarnation says so or, made before
// incarnations, it is older than the sink's tombstone) does not hold it:
// the create cleans it. change is held.
func (e *Endpoints) checkNameFree(ctx context.Context, name string) error {
	trace, err := e.store.Trace(ctx, name)
	if err != nil {
		return fmt.Errorf("sink %s: history: %w", name, err)
	}
	if trace.Held {
		return gatewayapi.Conflictf("sink %q exists", name)
	}
	c, err := e.js.Consumer(ctx, e.stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sink %s: consumer: %w", name, err)
	}
	info := c.CachedInfo()
	switch inc := bus.IncarnationOf(info.Config); {
	case inc == apisinks.FileIncarnation(name):
		return errKeptState(name)
	case inc != "":
		return nil // an API sink's, deleted: the create cleans it
	case trace.Used && !info.Created.After(trace.At):
		// Made before incarnations, and before the API sink of this
		// name was deleted: that sink's.
		return nil
	}
	return errKeptState(name)
}

// pruneKept deletes the consumers of config-file sinks that no longer
// run: those a reload without --prune kept (removed now or earlier). Only
// consumers Switchyard made for a sink are touched, and never one whose
// name a running sink or the sinks bucket holds. change is held.
func (e *Endpoints) pruneKept(ctx context.Context) {
	running := map[string]bool{}
	for _, s := range e.host.Sinks() {
		running[s.Name] = true
	}
	e.mu.RLock()
	for name := range e.api {
		running[name] = true
	}
	e.mu.RUnlock()
	st, err := e.js.Stream(ctx, e.stream)
	if err != nil {
		e.log.Warn("reload: prune: stream", "err", err)
		return
	}
	var names []string
	lister := st.ListConsumers(ctx)
	for info := range lister.Info() {
		name := info.Config.Durable
		if name == "" || running[name] || info.Config.Description != sinkConsumerDescription(name) {
			continue
		}
		if inc := bus.IncarnationOf(info.Config); inc != "" && inc != apisinks.FileIncarnation(name) {
			continue // an API sink's: its delete cleans it, not a prune
		}
		if _, err := e.store.Revision(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // an API sink's, or cannot tell
		}
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		e.log.Warn("reload: prune: list consumers", "err", err)
	}
	if len(names) > 0 {
		e.log.Info("reload: pruning the kept consumers of removed sinks", "sinks", names)
		e.host.DropConsumers(ctx, names)
	}
}
