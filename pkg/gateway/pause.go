package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pauseRecord is a paused sink's entry in the state bucket.
type pauseRecord struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func pauseKey(sink string) string { return "sinks." + sink + ".paused" }

// Pause pauses a sink for every replica and across restarts: the state
// bucket records it, and each gateway's watcher applies it.
func (g *Gateway) Pause(ctx context.Context, name, reason string) error {
	rs, err := g.sink(name)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "paused by an operator"
	}
	b, _ := json.Marshal(pauseRecord{Reason: reason, At: time.Now().UTC()})
	if _, err := g.state.Put(ctx, pauseKey(name), b); err != nil {
		return err
	}
	rs.dispatcher.Pause(reason)
	return nil
}

// Resume resumes a paused sink; its backlog drains.
func (g *Gateway) Resume(ctx context.Context, name string) error {
	rs, err := g.sink(name)
	if err != nil {
		return err
	}
	if rs.cfg.Disabled {
		return conflict("sink %q is disabled in its definition: set disabled: false (PATCH for API sinks, the config file otherwise)", name)
	}
	if err := g.state.Delete(ctx, pauseKey(name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	rs.dispatcher.Resume()
	return nil
}

// applyPauses reads the bucket at start, so a sink paused before a restart
// stays paused from its first moment.
func (g *Gateway) applyPauses(ctx context.Context) error {
	for _, rs := range g.sinkList() {
		if err := g.applyPause(ctx, rs); err != nil {
			return err
		}
	}
	return nil
}

// applyPause pauses one sink if the bucket says so.
func (g *Gateway) applyPause(ctx context.Context, rs *runningSink) error {
	e, err := g.state.Get(ctx, pauseKey(rs.cfg.Name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		rs.dispatcher.LiftIndefinitePause(ctx)
		return nil
	}
	if err != nil {
		return err
	}
	var rec pauseRecord
	_ = json.Unmarshal(e.Value(), &rec)
	rs.dispatcher.Pause(rec.Reason)
	return nil
}

// watchPauses applies pauses and resumes made through any replica.
func (g *Gateway) watchPauses(ctx context.Context) {
	w, err := g.state.Watch(ctx, "sinks.*.paused", jetstream.UpdatesOnly())
	if err != nil {
		g.log.Error("watch pause state", "err", err)
		return
	}
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(e.Key(), "sinks."), ".paused")
		rs, err := g.sink(name)
		if err != nil {
			continue
		}
		if e.Operation() == jetstream.KeyValuePut {
			var rec pauseRecord
			_ = json.Unmarshal(e.Value(), &rec)
			rs.dispatcher.Pause(rec.Reason)
		} else if !rs.cfg.Disabled {
			rs.dispatcher.Resume()
		}
	}
}
