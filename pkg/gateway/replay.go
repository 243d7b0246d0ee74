package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

// replay re-delivers a time range of the stream to one sink through a
// temporary consumer of its own, which the sink's dispatcher pulls like
// its durable one (same gate, retries and dead letters). Other sinks never
// see it. Receivers get the original ids and can de-duplicate.
type replay struct {
	mu     sync.Mutex
	st     admin.ReplayStatus
	cancel context.CancelFunc
}

func (r *replay) status() admin.ReplayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	end := time.Now()
	if st.Finished != nil {
		end = *st.Finished
	}
	if secs := end.Sub(st.Started).Seconds(); secs > 0 && st.Done > 0 {
		st.Rate = float64(st.Done) / secs
		if st.State == "running" && st.Total > st.Done {
			st.ETASeconds = float64(st.Total-st.Done) / st.Rate
		}
	}
	return st
}

// StartReplay implements admin.Backend.
func (g *Gateway) StartReplay(ctx context.Context, name string, req admin.ReplayRequest) (admin.ReplayStatus, error) {
	rs, err := g.sink(name)
	if err != nil {
		return admin.ReplayStatus{}, err
	}
	if req.Since.IsZero() {
		return admin.ReplayStatus{}, fmt.Errorf("%w: since is required", admin.ErrBadRequest)
	}
	if req.Until.IsZero() {
		// "Since T" means up to now: live traffic keeps flowing through the
		// sink's own consumer, and the replay ends.
		req.Until = time.Now()
	}
	if !req.Until.After(req.Since) {
		return admin.ReplayStatus{}, fmt.Errorf("%w: until must be after since", admin.ErrBadRequest)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	cc := replayConsumer(rs.cfg, id, req.Since, g.cfg.Stream.Name)
	cons, err := g.bus.JS.CreateConsumer(ctx, g.cfg.Stream.Name, cc)
	if err != nil {
		return admin.ReplayStatus{}, fmt.Errorf("replay consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return admin.ReplayStatus{}, err
	}
	r := &replay{st: admin.ReplayStatus{ID: id, Sink: name, Since: req.Since, Types: req.Types, State: "running",
		Total: info.NumPending, Started: time.Now().UTC()}}
	until := req.Until
	r.st.Until = &until
	var pastUntil sync.Once
	past := make(chan struct{})
	stop, err := rs.dispatcher.AddSource(cons, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if !meta.Timestamp.Before(req.Until) {
			pastUntil.Do(func() { close(past) })
			return false
		}
		if len(req.Types) == 0 {
			return true
		}
		typ := strings.TrimPrefix(m.Subject(), config.SubjectPrefix)
		for _, t := range req.Types {
			if event.MatchType(t, typ) {
				return true
			}
		}
		return false
	})
	if err != nil {
		_ = g.bus.JS.DeleteConsumer(ctx, g.cfg.Stream.Name, cc.Name)
		return admin.ReplayStatus{}, err
	}
	rctx, cancel := context.WithCancel(g.runCtx)
	r.cancel = cancel
	g.replaysMu.Lock()
	g.replays[id] = r
	g.replaysMu.Unlock()
	go g.watchReplay(rctx, r, cons, cc.Name, stop, past)
	g.log.Info("replay started", "replay", id, "sink", name, "since", req.Since, "until", req.Until, "types", req.Types, "events", info.NumPending)
	return r.status(), nil
}

// replayConsumer starts at since on the sink's filters. It is named so an
// operator can see it, and JetStream removes it on its own if the gateway
// dies mid-replay.
func replayConsumer(s config.Sink, id string, since time.Time, stream string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Name:              s.Name + "_replay_" + id,
		Description:       "Switchyard replay " + id + " for sink " + s.Name + " of stream " + stream,
		FilterSubjects:    s.FilterSubjects(),
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &since,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           s.AckWait.D,
		MaxDeliver:        bus.MaxDeliver(s),
		MaxAckPending:     s.MaxAckPending,
		InactiveThreshold: 10 * time.Minute,
	}
}

// watchReplay tracks progress and ends the replay when every event of the
// range is settled (delivered or dead-lettered), or when it is canceled.
func (g *Gateway) watchReplay(ctx context.Context, r *replay, cons jetstream.Consumer, name string, stop func(), past <-chan struct{}) {
	finish := func(state, errMsg string) {
		stop()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.bus.JS.DeleteConsumer(dctx, g.cfg.Stream.Name, name)
		now := time.Now().UTC()
		r.mu.Lock()
		r.st.State, r.st.Error, r.st.Finished = state, errMsg, &now
		if state == "done" {
			r.st.Done = r.st.Total
		}
		r.mu.Unlock()
		g.log.Info("replay ended", "replay", r.st.ID, "sink", r.st.Sink, "state", state, "events", r.st.Done)
	}
	r.mu.Lock()
	total0 := r.st.Total
	r.mu.Unlock()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			finish("canceled", "")
			return
		case <-tick.C:
		}
		info, err := cons.Info(ctx)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			finish("failed", err.Error())
			return
		}
		pastEnd := false
		select {
		case <-past:
			pastEnd = true
		default:
		}
		r.mu.Lock()
		total := total0
		if pastEnd && total0 >= info.NumPending {
			// What is still pending lies beyond until: the range ends here.
			total = total0 - info.NumPending
		}
		outstanding := uint64(info.NumAckPending)
		if !pastEnd {
			outstanding += info.NumPending
		}
		r.st.Total, r.st.Done = total, total-min(total, outstanding)
		r.mu.Unlock()
		if (info.NumPending == 0 || pastEnd) && info.NumAckPending == 0 {
			finish("done", "")
			return
		}
	}
}

// Replays implements admin.Backend.
func (g *Gateway) Replays() []admin.ReplayStatus {
	g.replaysMu.Lock()
	defer g.replaysMu.Unlock()
	out := make([]admin.ReplayStatus, 0, len(g.replays))
	for _, r := range g.replays {
		out = append(out, r.status())
	}
	return out
}

// Replay implements admin.Backend.
func (g *Gateway) Replay(id string) (admin.ReplayStatus, error) {
	g.replaysMu.Lock()
	r, ok := g.replays[id]
	g.replaysMu.Unlock()
	if !ok {
		return admin.ReplayStatus{}, fmt.Errorf("%w: replay %q", admin.ErrNotFound, id)
	}
	return r.status(), nil
}

// CancelReplay implements admin.Backend.
func (g *Gateway) CancelReplay(id string) (admin.ReplayStatus, error) {
	g.replaysMu.Lock()
	r, ok := g.replays[id]
	g.replaysMu.Unlock()
	if !ok {
		return admin.ReplayStatus{}, fmt.Errorf("%w: replay %q", admin.ErrNotFound, id)
	}
	r.cancel()
	deadline := time.Now().Add(5 * time.Second)
	for r.status().State == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return r.status(), nil
}
