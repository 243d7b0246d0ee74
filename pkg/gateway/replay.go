package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// replay re-delivers a time range of the stream to one sink through a
// temporary consumer of its own, which the sink's dispatcher pulls like
// its durable one (same gate, retries and dead letters). Other sinks never
// see it. Receivers get the original ids and can de-duplicate.
type replay struct {
	mu     sync.Mutex
	st     admin.ReplayStatus
	cancel context.CancelFunc
	// The replay's consumer is a source of the sink's dispatcher of the
	// moment; a reload that rebuilds the sink hands it to the new one.
	cons   jetstream.Consumer
	accept dispatch.Accept
	stop   func() // ends the source on the dispatcher it is attached to
	note   string // why a cancel ended it, when it was not the operator
}

// setSource installs the source's stop on a new dispatcher and ends the
// one on the old. A replay that has ended meanwhile stops the new at once.
func (r *replay) setSource(stop func()) {
	r.mu.Lock()
	old := r.stop
	ended := r.st.State != "running"
	if !ended {
		r.stop = stop
	}
	r.mu.Unlock()
	if ended {
		stop()
		return
	}
	if old != nil {
		old()
	}
}

// end cancels the replay with a reason.
func (r *replay) end(note string) {
	r.mu.Lock()
	r.note = note
	r.mu.Unlock()
	r.cancel()
}

// attachSource adds a consumer to a sink's dispatcher, waiting briefly for
// one that a reload has just started.
func attachSource(d *dispatch.Dispatcher, cons jetstream.Consumer, accept dispatch.Accept) (func(), error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		stop, err := d.AddSource(cons, accept)
		if err == nil || time.Now().After(deadline) {
			return stop, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Finished replays are kept this long, and at most this many, so that
// their outcome can be read; then they are dropped.
var (
	replayRetention    = time.Hour
	maxFinishedReplays = 100
)

// pruneReplays drops finished replays past their retention, and the
// oldest beyond the maximum. The caller holds replaysMu.
func (g *Gateway) pruneReplays(now time.Time) {
	type fin struct {
		id string
		at time.Time
	}
	var finished []fin
	for id, r := range g.replays {
		r.mu.Lock()
		f := r.st.Finished
		r.mu.Unlock()
		switch {
		case f == nil:
		case now.Sub(*f) > replayRetention:
			delete(g.replays, id)
		default:
			finished = append(finished, fin{id, *f})
		}
	}
	if len(finished) > maxFinishedReplays {
		sort.Slice(finished, func(i, j int) bool { return finished[i].at.Before(finished[j].at) })
		for _, f := range finished[:len(finished)-maxFinishedReplays] {
			delete(g.replays, f.id)
		}
	}
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
	// No reload may swap the sink between finding its dispatcher and
	// registering the replay: the reload hands registered replays over.
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
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
	accept := func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		if !meta.Timestamp.Before(req.Until) {
			pastUntil.Do(func() { close(past) })
			return false
		}
		if len(req.Types) == 0 {
			return true
		}
		typ := subject.Type(m.Subject())
		for _, t := range req.Types {
			if event.MatchType(t, typ) {
				return true
			}
		}
		return false
	}
	stop, err := attachSource(rs.dispatcher, cons, accept)
	if err != nil {
		_ = g.bus.JS.DeleteConsumer(ctx, g.cfg.Stream.Name, cc.Name)
		return admin.ReplayStatus{}, err
	}
	r.cons, r.accept, r.stop = cons, accept, stop
	rctx, cancel := context.WithCancel(g.runCtx)
	r.cancel = cancel
	g.replaysMu.Lock()
	g.pruneReplays(time.Now())
	g.replays[id] = r
	g.replaysMu.Unlock()
	go g.watchReplay(rctx, r, cons, cc.Name, past)
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
func (g *Gateway) watchReplay(ctx context.Context, r *replay, cons jetstream.Consumer, name string, past <-chan struct{}) {
	finish := func(state, errMsg string) {
		now := time.Now().UTC()
		r.mu.Lock()
		if errMsg == "" {
			errMsg = r.note
		}
		r.st.State, r.st.Error, r.st.Finished = state, errMsg, &now
		if state == "done" {
			r.st.Done = r.st.Total
		}
		stop := r.stop
		r.mu.Unlock()
		stop()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.bus.JS.DeleteConsumer(dctx, g.cfg.Stream.Name, name)
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

// handOffReplays moves the running replays of sinks a reload rebuilt to
// their new dispatchers (the old ones are about to stop, and with them the
// sources they pull), and ends the replays of sinks it removed. The
// caller holds reloadMu and has started the new dispatchers.
func (g *Gateway) handOffReplays(fresh map[string]*runningSink, removed []string) {
	g.replaysMu.Lock()
	var running []*replay
	for _, r := range g.replays {
		if r.status().State == "running" {
			running = append(running, r)
		}
	}
	g.replaysMu.Unlock()
	for _, r := range running {
		name := r.status().Sink
		if slices.Contains(removed, name) {
			r.end("sink " + name + " removed by a reload")
			continue
		}
		rs, ok := fresh[name]
		if !ok {
			continue // unchanged: its dispatcher keeps running
		}
		stop, err := attachSource(rs.dispatcher, r.cons, r.accept)
		if err != nil {
			g.log.Error("reload: replay not handed to the new dispatcher", "replay", r.status().ID, "sink", name, "err", err)
			r.end("reload: " + err.Error())
			continue
		}
		r.setSource(stop)
		g.log.Info("reload: replay handed to the new dispatcher", "replay", r.status().ID, "sink", name)
	}
}

// Replays implements admin.Backend.
func (g *Gateway) Replays() []admin.ReplayStatus {
	g.replaysMu.Lock()
	defer g.replaysMu.Unlock()
	g.pruneReplays(time.Now())
	out := make([]admin.ReplayStatus, 0, len(g.replays))
	for _, r := range g.replays {
		out = append(out, r.status())
	}
	return out
}

// Replay implements admin.Backend.
func (g *Gateway) Replay(id string) (admin.ReplayStatus, error) {
	g.replaysMu.Lock()
	g.pruneReplays(time.Now())
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
