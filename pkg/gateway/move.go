package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// A sink that changes delivery (same incarnation) moves without losing
// or repeating an event: each event is delivered by exactly one side,
// split at one events stream sequence read while no event is matched.
//
// Dedicated → shared: the dedicated dispatcher stops first (it hands back
// what it holds); the shared sink is indexed to take the events after the
// stream's last sequence S (shared.Index.PutAfter); then a hand-over turns
// what the dedicated consumers still hold — never delivered, or waiting
// out a retry, and every redrive — into records, attempts carried over,
// until nothing at or before S is left, and deletes the consumers
// (shared.HandOver). An event after S the consumer still gives is handed
// on by both sides under one record id, so it makes one record (within
// the deliveries stream's duplicate window): with several replicas, each
// bounds its index by its own S, and none may drop what another's bound
// leaves to the consumer.
//
// Shared → dedicated: the new consumer is created while no event is
// matched, and the matchers hand on nothing after its start
// (shared.Index.Cut); the shared sink keeps delivering the records handed
// on before — due, waiting as schedules, parked — beside the dedicated
// one, gated by the sink's pause and breaker, until none is left.

// moveSink starts rs in old's place when they are one sink changing
// delivery, and reports whether it did; otherwise the caller starts rs
// and stops old as for any change.
func (g *Gateway) moveSink(ctx context.Context, old, rs *runningSink) bool {
	if old == nil || old.cfg.Incarnation != rs.cfg.Incarnation || old.cfg.Shared() == rs.cfg.Shared() {
		return false
	}
	if rs.cfg.Shared() {
		g.moveToShared(ctx, old, rs)
	} else {
		g.moveToDedicated(ctx, old, rs)
	}
	return true
}

// moveToShared replaces the dedicated old by the shared rs.
func (g *Gateway) moveToShared(ctx context.Context, old, rs *runningSink) {
	name, inc := rs.cfg.Name, rs.cfg.Incarnation
	// First: from here on nothing is delivered from the consumers but
	// through the hand-over, so no event after S is also delivered by
	// the dedicated dispatcher.
	g.stopSink(ctx, old)
	sctx, cancel := context.WithCancel(g.runCtx)
	rs.cancel = cancel
	rs.wait = rs.dispatcher.Start(sctx, g.shutdownGrace())
	upTo, err := g.shared.addAfter(rs, func() (uint64, error) { return g.lastEventSeq(ctx) })
	if err != nil {
		// Indexed without a bound: an event a lagging matcher still holds
		// from before the move may be delivered again; those after are
		// handed on by both sides, and the record ids make them one.
		g.log.Warn("move to shared delivery: the events stream's last sequence is unknown; handing over up to a later one", "sink", name, "err", err)
		if err := g.shared.add(rs); err != nil {
			g.log.Error("shared sink not indexed: it gets no events", "sink", name, "err", err)
		}
		upTo = 0
	}
	if upTo > 0 {
		g.recordMove(ctx, name, inc, upTo)
	}
	g.log.Info("sink moving to shared delivery: handing its consumers' backlog over", "sink", name, "incarnation", inc, "up_to", upTo)
	g.startHandOver(name, inc, upTo)
}

// startHandOver runs a sink's hand-over until it is done, the sink moves
// back, or the gateway stops.
func (g *Gateway) startHandOver(name, inc string, upTo uint64) {
	hctx, stop := context.WithCancel(g.runCtx)
	done := make(chan struct{})
	g.shared.handingOver(inc, func() { stop(); <-done })
	g.moves.Add(1)
	go func() {
		defer g.moves.Done()
		defer close(done)
		defer g.shared.handedOver(inc)
		g.handOver(hctx, name, inc, upTo)
	}()
}

// moveKey is where the state bucket keeps a move to shared delivery
// whose hand-over is not over ("<incarnation> <upTo> <name>"): a restart
// resumes it, with the same bound (resumeMoves).
func moveKey(name string) string { return "moving." + subject.Token(name) }

func (g *Gateway) recordMove(ctx context.Context, name, inc string, upTo uint64) {
	if _, err := g.state.Put(ctx, moveKey(name), fmt.Appendf(nil, "%s %d %s", inc, upTo, name)); err != nil {
		g.log.Warn("move to shared delivery: not recorded; a restart before its hand-over is over leaves the backlog in the consumers", "sink", name, "err", err)
	}
}

// moveRecord is the state record of a move under way: the sink's
// incarnation, its bound (the last sequence the consumer's side takes, or
// the cut) and its name, written "<incarnation> <seq> <name>".
type moveRecord struct {
	key, inc, name string
	seq            uint64
}

// moveRecords reads the state records of the moves under way whose keys
// match filter (one listing, whatever the number of sinks); what cannot
// be read is skipped, and what is stands for what.
func (g *Gateway) moveRecords(ctx context.Context, filter, what string) []moveRecord {
	keys, err := g.state.ListKeysFiltered(ctx, filter)
	if err != nil {
		g.log.Warn(what+": not read", "err", err)
		return nil
	}
	var out []moveRecord
	for k := range keys.Keys() {
		e, err := g.state.Get(ctx, k)
		if err != nil {
			continue
		}
		m := moveRecord{key: k}
		if n, _ := fmt.Sscanf(string(e.Value()), "%s %d %s", &m.inc, &m.seq, &m.name); n == 3 {
			out = append(out, m)
		}
	}
	return out
}

// resumeMoves resumes the hand-overs a stop interrupted (one request to
// find them, whatever the number of sinks), before the matchers start:
// the sink is indexed to the same bound again. A record whose sink no
// longer runs shared under that incarnation is dropped. Called by Run
// once the sinks run.
func (g *Gateway) resumeMoves(ctx context.Context) {
	resumed := map[string]bool{}
	defer g.resumeOfflineMoves(ctx, resumed)
	for _, m := range g.moveRecords(ctx, "moving.*", "moves to shared delivery under way") {
		inc, upTo, name := m.inc, m.seq, m.name
		if rs, err := g.sink(name); err != nil || !rs.cfg.Shared() || rs.cfg.Incarnation != inc {
			_ = g.state.Purge(ctx, m.key)
			continue
		}
		g.shared.index.From(inc, upTo+1)
		g.log.Info("sink moving to shared delivery: resuming its hand-over", "sink", name, "incarnation", inc, "up_to", upTo)
		g.startHandOver(name, inc, upTo)
		resumed[name] = true
	}
}

// resumeOfflineMoves hands over the consumers of the shared sinks that
// still have one (one request to list them, whatever the number of
// sinks): a sink made shared while the gateway was down (its file
// edited), or whose move was not recorded. The events the consumer holds
// that the matchers hand on too make one record each (their ids).
func (g *Gateway) resumeOfflineMoves(ctx context.Context, resumed map[string]bool) {
	st, err := g.bus.JS.Stream(ctx, g.consumers.Stream)
	if err != nil {
		g.log.Warn("consumers of shared sinks: not listed", "err", err)
		return
	}
	var names []string
	lister := st.ConsumerNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if err := lister.Err(); err != nil {
		g.log.Warn("consumers of shared sinks: not listed", "err", err)
	}
	for _, name := range names {
		rs, err := g.sink(name)
		if resumed[name] || err != nil || !rs.cfg.Shared() {
			continue
		}
		upTo, err := g.lastEventSeq(ctx)
		if err != nil {
			g.log.Warn("consumers of shared sinks: events stream", "err", err)
			return
		}
		g.log.Info("shared sink with a dedicated consumer left: handing it over", "sink", name, "incarnation", rs.cfg.Incarnation, "up_to", upTo)
		g.startHandOver(name, rs.cfg.Incarnation, upTo)
	}
}

// lastEventSeq is the events stream's last sequence.
func (g *Gateway) lastEventSeq(ctx context.Context) (uint64, error) {
	var last uint64
	err := g.retry.Do(ctx, "stream "+g.consumers.Stream, func(ctx context.Context) error {
		st, err := g.bus.JS.Stream(ctx, g.consumers.Stream)
		if err != nil {
			return err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		last = info.State.LastSeq
		return nil
	})
	return last, err
}

// handOver hands the dedicated consumers' backlog of a sink moved to
// shared delivery over, then deletes them, trying again until it is done
// or ctx ends (a restart then leaves the consumers and their backlog:
// see the report of issue 20).
func (g *Gateway) handOver(ctx context.Context, name, inc string, upTo uint64) {
	for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 10*time.Second) {
		if upTo == 0 {
			seq, err := g.lastEventSeq(ctx)
			if err != nil {
				g.log.Warn("move to shared delivery: events stream", "sink", name, "err", err)
				sleepCtx(ctx, wait)
				continue
			}
			upTo = seq
		}
		err := g.handOverOnce(ctx, name, inc, upTo)
		if err == nil {
			return
		}
		if ctx.Err() == nil {
			g.log.Warn("move to shared delivery: hand-over interrupted; trying again", "sink", name, "err", err, "retry_in", wait)
			sleepCtx(ctx, wait)
		}
	}
}

func (g *Gateway) handOverOnce(ctx context.Context, name, inc string, upTo uint64) error {
	made := 0
	for _, c := range []struct {
		stream, consumer string
		upTo             uint64
	}{{g.consumers.Stream, name, upTo}, {bus.RedriveStream, subject.RedriveConsumer(name), shared.All}} {
		cons, err := g.bus.JS.Consumer(ctx, c.stream, c.consumer)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := bus.CheckIncarnation(cons.CachedInfo(), inc); err != nil {
			return nil // another sink's now: not ours to hand over or delete
		}
		n, err := shared.HandOver(ctx, g.bus.JS, cons, inc, c.upTo, g.handbacks.Skipped)
		made += n
		if err != nil {
			return err
		}
	}
	g.consumers.Delete(ctx, "move to shared delivery", name)
	// A move back makes a consumer anew, from then on; an old floor
	// would replay what was delivered since.
	for _, k := range []string{ackfloor.Key(name), moveKey(name)} {
		if err := g.state.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			g.log.Warn("move to shared delivery: state", "sink", name, "key", k, "err", err)
		}
	}
	g.log.Info("sink moved to shared delivery: its consumers' backlog is handed over and they are deleted", "sink", name, "records", made)
	return nil
}

// ensureConsumers is openSink's g.consumers.Ensure, but for a sink that
// runs shared here now (a move to dedicated): its consumer is created
// while no event is matched, and the matchers hand on nothing after the
// consumer's start.
func (g *Gateway) ensureConsumers(ctx context.Context, sc config.Sink, batch int) (events, redrive jetstream.Consumer, err error) {
	if !g.shared.runs(sc.Incarnation) {
		return g.consumers.Ensure(ctx, sc, batch)
	}
	// A move to shared still handing over (moved back at once): its
	// consumers are the sink's again.
	g.shared.stopHandingOver(sc.Incarnation)
	_, err = g.shared.index.Cut(sc.Incarnation, func() (uint64, error) {
		events, redrive, err = g.consumers.Ensure(ctx, sc, batch)
		if err != nil {
			return 0, err
		}
		// Where it starts: the events after are its own.
		return events.CachedInfo().Delivered.Stream, nil
	})
	return events, redrive, err
}

// moveToDedicated starts the dedicated rs (its consumer made by
// ensureConsumers) and keeps the shared old delivering the records handed
// on before, until none is left.
func (g *Gateway) moveToDedicated(ctx context.Context, old, rs *runningSink) {
	g.startSink(g.runCtx, rs)
	if cut, ok := g.shared.index.Until(rs.cfg.Incarnation); ok {
		if _, err := g.state.Put(ctx, leaveKey(rs.cfg.Name), fmt.Appendf(nil, "%s %d %s", rs.cfg.Incarnation, cut, rs.cfg.Name)); err != nil {
			g.log.Warn("move to dedicated delivery: not recorded; a restart before its shared records are delivered drops them", "sink", rs.cfg.Name, "err", err)
		}
	}
	g.startLeaving(old)
}

// startLeaving keeps the running shared old (its sink now dedicated)
// delivering its records, gated by the sink's state as it runs now,
// until none is left; then it stops.
func (g *Gateway) startLeaving(old *runningSink) {
	name, inc := old.cfg.Name, old.cfg.Incarnation
	g.shared.leave(old, func() dispatch.State {
		if cur, err := g.sink(name); err == nil {
			return cur.dispatcher.State()
		}
		return dispatch.StatePaused
	})
	g.log.Info("sink moving to dedicated delivery: its shared records are delivered first", "sink", name, "incarnation", inc)
	g.moves.Add(1)
	go func() {
		defer g.moves.Done()
		if g.finishLeaving(g.runCtx, old) {
			if err := g.state.Purge(context.WithoutCancel(g.runCtx), leaveKey(name)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				g.log.Warn("move to dedicated delivery: state", "sink", name, "err", err)
			}
		}
		g.shared.left(old)
		old.cancel()
		old.stopped()
		_ = old.driver.Close(context.WithoutCancel(g.runCtx))
	}()
}

// leaveKey is where the state bucket keeps a move to dedicated delivery
// whose shared records are not all delivered ("<incarnation> <cut>
// <name>"): a restart delivers them (resumeLeaving).
func leaveKey(name string) string { return "leaving." + subject.Token(name) }

// resumeLeaving starts again, before the matchers start, the shared
// delivery of the records left by the moves to dedicated delivery a stop
// interrupted; a record whose sink no longer runs dedicated under that
// incarnation is dropped (a deleted sink's records are purged).
func (g *Gateway) resumeLeaving(ctx context.Context) {
	for _, m := range g.moveRecords(ctx, "leaving.*", "moves to dedicated delivery under way") {
		inc, cut, name, k := m.inc, m.seq, m.name, m.key
		cur, err := g.sink(name)
		if err != nil || cur.cfg.Shared() || cur.cfg.Incarnation != inc {
			if err != nil || cur.cfg.Incarnation != inc {
				if err := shared.Purge(ctx, g.bus.JS, inc); err != nil {
					g.log.Warn("moved to dedicated delivery and gone: shared records", "sink", name, "err", err)
				}
			}
			_ = g.state.Purge(ctx, k)
			continue
		}
		sc := cur.cfg
		sc.Delivery = config.DeliveryShared
		old, err := g.openSink(ctx, sc)
		if err != nil {
			g.log.Warn("moved to dedicated delivery: its shared records wait for the next start", "sink", name, "err", err)
			continue
		}
		sctx, cancel := context.WithCancel(g.runCtx)
		old.cancel = cancel
		old.wait = old.dispatcher.Start(sctx, g.shutdownGrace())
		if err := g.shared.index.Put(inc, sc.FilterSubjects()); err == nil {
			_, _ = g.shared.index.Cut(inc, func() (uint64, error) { return cut, nil })
		}
		g.startLeaving(old)
	}
}

// leaveEvery is how often a sink moved to dedicated delivery looks
// whether its shared records are all delivered.
const leaveEvery = 250 * time.Millisecond

// finishLeaving returns once the shared sink old has no record left
// (every event up to its cut handed on by the matchers, and no record
// due, waiting or parked), its sink is deleted or another incarnation
// runs under its name (its records are purged then), or ctx ends (then
// false: not over).
func (g *Gateway) finishLeaving(ctx context.Context, old *runningSink) bool {
	name, inc := old.cfg.Name, old.cfg.Incarnation
	for sleepCtx(ctx, leaveEvery) {
		if cur, err := g.sink(name); err != nil || cur.cfg.Incarnation != inc {
			if err := shared.Purge(ctx, g.bus.JS, inc); err != nil {
				g.log.Warn("sink moved to dedicated delivery and gone: shared records", "sink", name, "err", err)
			}
			return true
		}
		if done, err := g.leftShared(ctx, inc); err != nil {
			g.log.Warn("sink moving to dedicated delivery: its shared records", "sink", name, "err", err)
		} else if done {
			g.log.Info("sink moved to dedicated delivery: its shared records are delivered", "sink", name)
			return true
		}
	}
	return false
}

// leftShared says whether the matchers are past the cut of inc and no
// record of it is left.
func (g *Gateway) leftShared(ctx context.Context, inc string) (bool, error) {
	m, err := g.bus.JS.Consumer(ctx, g.consumers.Stream, subject.MatchConsumer)
	if err != nil {
		return false, fmt.Errorf("matchers' consumer: %w", err)
	}
	info, err := m.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("matchers' consumer: %w", err)
	}
	cut, _ := g.shared.index.Until(inc)
	if info.AckFloor.Stream < cut && (info.NumPending > 0 || info.NumAckPending > 0) {
		return false, nil
	}
	b, err := shared.ReadBacklog(ctx, g.bus.JS, inc)
	if err != nil {
		return false, err
	}
	return b.Due+b.Retrying+b.Parked == 0, nil
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// leavingSink is a shared sink moved to dedicated delivery, still
// delivering its records: its Room is the sink's gate as it runs now
// (paused, breaker open: none).
type leavingSink struct {
	rs   *runningSink
	gate func() dispatch.State
}

func (l leavingSink) Room() int {
	switch l.gate() {
	case dispatch.StatePaused, dispatch.StateOpen:
		return 0
	}
	return sharedTarget{l.rs}.Room()
}

func (l leavingSink) Offer(m jetstream.Msg) bool { return sharedTarget{l.rs}.Offer(m) }

// addAfter makes rs the running sink of its incarnation, indexed to take
// the events after the sequence last returns (Index.PutAfter).
func (s *sharedSinks) addAfter(rs *runningSink, last func() (uint64, error)) (uint64, error) {
	s.mu.Lock()
	s.byInc[rs.cfg.Incarnation] = rs
	delete(s.gone, rs.cfg.Name)
	s.mu.Unlock()
	return s.index.PutAfter(rs.cfg.Incarnation, rs.cfg.FilterSubjects(), last)
}

// runs says whether a shared sink of incarnation inc runs here.
func (s *sharedSinks) runs(inc string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.byInc[inc]
	return ok
}

// leave turns the running shared rs into a leaving one: still offered its
// records, its Room gated by gate; the matchers keep to its cut.
func (s *sharedSinks) leave(rs *runningSink, gate func() dispatch.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byInc[rs.cfg.Incarnation] == rs {
		delete(s.byInc, rs.cfg.Incarnation)
	}
	s.leaving[rs.cfg.Incarnation] = leavingSink{rs: rs, gate: gate}
}

// left takes the leaving rs out, and its incarnation out of the index.
func (s *sharedSinks) left(rs *runningSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.leaving[rs.cfg.Incarnation]; ok && l.rs == rs {
		delete(s.leaving, rs.cfg.Incarnation)
		if _, running := s.byInc[rs.cfg.Incarnation]; !running {
			s.index.Remove(rs.cfg.Incarnation)
		}
	}
}

// handingOver notes a hand-over under way; stop ends it and waits.
func (s *sharedSinks) handingOver(inc string, stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handing[inc] = stop
}

// handedOver notes the end of inc's hand-over.
func (s *sharedSinks) handedOver(inc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.handing, inc)
}

// stopHandingOver ends inc's hand-over, if one is under way, and waits
// for it to have stopped.
func (s *sharedSinks) stopHandingOver(inc string) {
	s.mu.RLock()
	stop := s.handing[inc]
	s.mu.RUnlock()
	if stop != nil {
		stop()
	}
}
