package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// pauseRecord is a paused sink's entry in the state bucket.
type pauseRecord struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func pauseKey(sink string) string { return "sinks." + subject.Token(sink) + ".paused" }

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
	var e jetstream.KeyValueEntry
	err := g.retry.Do(ctx, "pause state of "+rs.cfg.Name, func(ctx context.Context) (err error) {
		e, err = g.state.Get(ctx, pauseKey(rs.cfg.Name))
		return err
	})
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

// watchPauses applies pauses and resumes made through any replica, until
// ctx ends. A watch that cannot start yet (the cluster electing) or that
// ends is started again: a replica that stopped watching would deliver
// for a sink the others hold paused.
func (g *Gateway) watchPauses(ctx context.Context) {
	// The first watch needs only updates: New applied the bucket. A watch
	// started again takes the bucket's entries too (delete markers
	// included), which covers what changed while none ran.
	opts := []jetstream.WatchOpt{jetstream.UpdatesOnly()}
	for ctx.Err() == nil {
		var w jetstream.KeyWatcher
		err := g.retry.Do(ctx, "watch pause state", func(context.Context) (err error) {
			// The watch lives on ctx, not the attempt's context.
			w, err = g.state.Watch(ctx, "sinks.*.paused", opts...)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				g.log.Error("watch pause state", "err", err)
				bus.Sleep(ctx, bus.RetryCap)
			}
			continue
		}
		opts = nil
		g.applyPauseUpdates(w)
		_ = w.Stop()
	}
}

// applyPauseUpdates applies a watch's updates until it ends.
func (g *Gateway) applyPauseUpdates(w jetstream.KeyWatcher) {
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
