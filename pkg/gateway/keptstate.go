package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
)

// A reload without --prune stops a removed config-file sink and keeps its
// durable consumer (its position and backlog) on purpose, so that putting
// the sink back resumes it. That kept state holds the sink's name: an API
// sink must not take the name over (creating one cleaned the name's
// consumer, dead letters and ack floor), until a reload with --prune
// frees it.

// errKeptState answers a create over a removed file sink's kept state.
func errKeptState(name string) error {
	return conflict("sink %q: a removed config-file sink's kept state (its consumer and backlog, kept by a reload without --prune) holds this name; "+
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
// the create cleans it. reloadMu is held.
func (g *Gateway) checkNameFree(ctx context.Context, name string) error {
	trace, err := g.store.Trace(ctx, name)
	if err != nil {
		return fmt.Errorf("sink %s: history: %w", name, err)
	}
	if trace.Held {
		return conflict("sink %q exists", name)
	}
	c, err := g.bus.JS.Consumer(ctx, g.cfg.Stream.Name, name)
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
// name a sink of next or the sinks bucket holds. reloadMu is held.
func (g *Gateway) pruneKept(ctx context.Context) {
	g.mu.RLock()
	running := make(map[string]bool, len(g.cfg.Sinks)+len(g.api))
	for _, s := range g.cfg.Sinks {
		running[s.Name] = true
	}
	for name := range g.api {
		running[name] = true
	}
	g.mu.RUnlock()
	st, err := g.bus.JS.Stream(ctx, g.cfg.Stream.Name)
	if err != nil {
		g.log.Warn("reload: prune: stream", "err", err)
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
		if _, err := g.store.Revision(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // an API sink's, or cannot tell
		}
		names = append(names, name)
	}
	if err := lister.Err(); err != nil {
		g.log.Warn("reload: prune: list consumers", "err", err)
	}
	if len(names) > 0 {
		g.log.Info("reload: pruning the kept consumers of removed sinks", "sinks", names)
		g.pruneConsumers(ctx, names)
	}
}
