package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Replays run on the replica that started them; their progress is shared
// through the state bucket so that any replica (a console behind a load
// balancer) can show it and cancel it: replays.<id> holds the status, and
// a put to replays.<id>.cancel asks the replica running it to stop.

func replayKey(id string) string       { return "replays." + subject.Token(id) }
func replayCancelKey(id string) string { return "replays." + subject.Token(id) + ".cancel" }

// shareEvery is how often a running replay's progress is shared.
var shareEvery = time.Second

// share writes a replay's status for the other replicas; best effort.
func (m *Manager) share(st gatewayapi.ReplayStatus) {
	if m.kv == nil {
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := m.kv.Put(ctx, replayKey(st.ID), b); err != nil {
		m.log.Warn("replay progress not shared", "replay", st.ID, "err", err)
	}
}

// unshareAll forgets replays dropped from this replica.
func (m *Manager) unshareAll(ids []string) {
	if m.kv == nil || len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, id := range ids {
		for _, k := range []string{replayKey(id), replayCancelKey(id)} {
			_ = m.kv.Purge(ctx, k)
		}
	}
}

// shared reads a replay another replica runs (or ran).
func (m *Manager) shared(ctx context.Context, id string) (gatewayapi.ReplayStatus, error) {
	var st gatewayapi.ReplayStatus
	// A replay id is hex digits: anything else is no replay's, and never
	// another key's ("x.cancel") or a wildcard.
	if m.kv == nil || subject.ValidName(id) != nil {
		return st, fmt.Errorf("%w: replay %q", gatewayapi.ErrNotFound, id)
	}
	e, err := m.kv.Get(ctx, replayKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, fmt.Errorf("%w: replay %q", gatewayapi.ErrNotFound, id)
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(e.Value(), &st)
}

// sharedList is every replay the bucket knows of that this replica does
// not run.
func (m *Manager) sharedList(ctx context.Context, local map[string]bool) []gatewayapi.ReplayStatus {
	var out []gatewayapi.ReplayStatus
	if m.kv == nil {
		return out
	}
	keys, err := m.kv.ListKeysFiltered(ctx, "replays.*")
	if err != nil {
		return out
	}
	defer func() { _ = keys.Stop() }()
	for k := range keys.Keys() {
		id := strings.TrimPrefix(k, "replays.")
		if local[id] {
			continue
		}
		if st, err := m.shared(ctx, id); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// requestCancel asks the replica running a replay to cancel it, and waits
// briefly for the shared status to say it ended.
func (m *Manager) requestCancel(id string) (gatewayapi.ReplayStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	st, err := m.shared(ctx, id)
	if err != nil || st.State != "running" {
		return st, err
	}
	// Watching first: the status the other replica shares as it ends is
	// then either the watch's first value or one of its updates.
	w, err := m.kv.Watch(ctx, replayKey(id))
	if err != nil {
		return st, err
	}
	defer func() { _ = w.Stop() }()
	if _, err := m.kv.Put(ctx, replayCancelKey(id), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return st, err
	}
	for st.State == "running" {
		select {
		case <-ctx.Done():
			return st, nil
		case e, ok := <-w.Updates():
			if !ok {
				return st, nil
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var s gatewayapi.ReplayStatus
			if json.Unmarshal(e.Value(), &s) == nil {
				st = s
			}
		}
	}
	return st, nil
}

// watchCancels cancels this replica's replays that another replica was
// asked to cancel, until ctx ends.
func (m *Manager) watchCancels(ctx context.Context) {
	if m.kv == nil {
		return
	}
	for ctx.Err() == nil {
		w, err := m.kv.Watch(ctx, "replays.*.cancel", jetstream.UpdatesOnly())
		if err != nil {
			m.log.Warn("watch replay cancels; retrying", "err", err)
			bus.Sleep(ctx, time.Second)
			continue
		}
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			id := strings.TrimSuffix(strings.TrimPrefix(e.Key(), "replays."), ".cancel")
			m.mu.Lock()
			r, ok := m.replays[id]
			m.mu.Unlock()
			if ok {
				r.end("canceled through another replica")
			}
		}
		_ = w.Stop()
	}
}
