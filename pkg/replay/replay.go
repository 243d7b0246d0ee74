package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// replay re-delivers a time range of the stream to one sink through a
// temporary consumer of its own, which the sink's dispatcher pulls like
// its durable one (same gate, retries and dead letters). Other sinks never
// see it. Receivers get the original ids and can de-duplicate.
type replay struct {
	mu     sync.Mutex
	st     gatewayapi.ReplayStatus
	cancel context.CancelFunc
	ended  chan struct{} // closed when st.State leaves "running"
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

// Attaching a source waits this long, polling this often, for a
// dispatcher that a reload has just started to take it.
const (
	attachWait  = 5 * time.Second
	attachRetry = 20 * time.Millisecond
)

// attachSource adds a consumer to a sink's dispatcher, waiting briefly
// for one that a reload has just started; it gives up when ctx ends.
func attachSource(ctx context.Context, d Dispatcher, cons jetstream.Consumer, accept dispatch.Accept) (func(), error) {
	deadline := time.NewTimer(attachWait)
	defer deadline.Stop()
	retry := time.NewTicker(attachRetry)
	defer retry.Stop()
	for {
		stop, err := d.AddSource(cons, accept)
		if err == nil {
			return stop, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-deadline.C:
			return nil, err
		case <-retry.C:
		}
	}
}

// pruneLocked drops finished replays past their retention, and the
// oldest beyond the maximum, and returns their ids: the caller forgets
// them in the shared bucket (unshareAll) once it has let go of m.mu, and
// before it reads the bucket, or a replay just dropped would come back
// from it as another replica's. The caller holds m.mu.
func (m *Manager) pruneLocked(now time.Time) (dropped []string) {
	type fin struct {
		id string
		at time.Time
	}
	var finished []fin
	for id, r := range m.replays {
		r.mu.Lock()
		f := r.st.Finished
		r.mu.Unlock()
		switch {
		case f == nil:
		case now.Sub(*f) > m.retention:
			delete(m.replays, id)
			dropped = append(dropped, id)
		default:
			finished = append(finished, fin{id, *f})
		}
	}
	if len(finished) > m.maxFinished {
		sort.Slice(finished, func(i, j int) bool { return finished[i].at.Before(finished[j].at) })
		for _, f := range finished[:len(finished)-m.maxFinished] {
			delete(m.replays, f.id)
			dropped = append(dropped, f.id)
		}
	}
	return dropped
}

func (r *replay) status() gatewayapi.ReplayStatus {
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

// start starts a replay of req on a sink's dispatcher. The caller holds
// the sink (Sinks.Hold), so that no reload swaps it between finding its
// dispatcher and registering the replay: a reload hands registered
// replays over.
func (m *Manager) start(ctx context.Context, sc config.Sink, d Dispatcher, req gatewayapi.ReplayRequest) (gatewayapi.ReplayStatus, error) {
	if err := m.running(); err != nil {
		return gatewayapi.ReplayStatus{}, fmt.Errorf("replay of sink %s: %w", sc.Name, err)
	}
	name := sc.Name
	if req.Since.IsZero() {
		return gatewayapi.ReplayStatus{}, fmt.Errorf("%w: since is required", gatewayapi.ErrBadRequest)
	}
	if req.Until.IsZero() {
		// "Since T" means up to now: live traffic keeps flowing through the
		// sink's own consumer, and the replay ends.
		req.Until = time.Now()
	}
	if !req.Until.After(req.Since) {
		return gatewayapi.ReplayStatus{}, fmt.Errorf("%w: until must be after since", gatewayapi.ErrBadRequest)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	cc := consumerConfig(sc, id, req.Since, m.stream)
	cons, err := m.js.CreateConsumer(ctx, m.stream, cc)
	if err != nil {
		return gatewayapi.ReplayStatus{}, fmt.Errorf("replay consumer: %w", bus.LimitReached(ctx, m.js, m.stream, 0, err))
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return gatewayapi.ReplayStatus{}, err
	}
	r := &replay{ended: make(chan struct{}), st: gatewayapi.ReplayStatus{ID: id, Sink: name, Since: req.Since, Types: req.Types, State: "running",
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
	stop, err := attachSource(ctx, d, cons, accept)
	if err != nil {
		_ = m.js.DeleteConsumer(context.WithoutCancel(ctx), m.stream, cc.Name)
		return gatewayapi.ReplayStatus{}, err
	}
	r.cons, r.accept, r.stop = cons, accept, stop
	m.mu.Lock()
	if err := m.runningLocked(); err != nil { // Stop began meanwhile
		m.mu.Unlock()
		stop()
		_ = m.js.DeleteConsumer(ctx, m.stream, cc.Name)
		return gatewayapi.ReplayStatus{}, fmt.Errorf("replay of sink %s: %w", name, err)
	}
	rctx, cancel := context.WithCancel(m.ctx)
	r.cancel = cancel
	dropped := m.pruneLocked(time.Now())
	m.replays[id] = r
	m.wg.Add(1)
	m.mu.Unlock()
	go m.unshareAll(dropped)
	go func() {
		defer m.wg.Done()
		m.watch(rctx, r, cons, cc.Name, past)
	}()
	m.log.Info("replay started", "replay", id, "sink", name, "since", req.Since, "until", req.Until, "types", req.Types, "events", info.NumPending)
	return r.status(), nil
}

// consumerConfig starts at since on the sink's filters. It is named so an
// operator can see it, and JetStream removes it on its own if the gateway
// dies mid-replay.
func consumerConfig(s config.Sink, id string, since time.Time, stream string) jetstream.ConsumerConfig {
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

// watch tracks progress and ends the replay when every event of the range
// is settled (delivered or dead-lettered), or when it is canceled.
func (m *Manager) watch(ctx context.Context, r *replay, cons jetstream.Consumer, name string, past <-chan struct{}) {
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
		close(r.ended)
		stop()
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.js.DeleteConsumer(dctx, m.stream, name)
		m.share(r.status())
		m.log.Info("replay ended", "replay", r.st.ID, "sink", r.st.Sink, "state", state, "events", r.st.Done)
	}
	r.mu.Lock()
	total0 := r.st.Total
	r.mu.Unlock()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	m.share(r.status())
	lastShared := time.Now()
	for {
		select {
		case <-ctx.Done():
			finish("canceled", "")
			return
		case <-tick.C:
		}
		if time.Since(lastShared) >= shareEvery {
			m.share(r.status())
			lastShared = time.Now()
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
