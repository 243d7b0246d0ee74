package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// sharedIdleStop is how long a shared sink's dispatcher keeps its
// goroutines after its last record: an idle shared sink owns none.
const sharedIdleStop = 30 * time.Second

// sharedSinks are the running shared sinks by incarnation, and the index
// the matchers match events against: a shared sink starts and stops as an
// entry in both, whatever the number of sinks.
type sharedSinks struct {
	index *shared.Index
	mu    sync.RWMutex
	byInc map[string]*runningSink
	// gone are the incarnations of shared sinks no longer running, by
	// name, until their delete purges their records (Forget).
	gone map[string]string
	// deliverer, once running, is told when a sink gives room back.
	deliverer atomic.Pointer[shared.Deliverer]
	// leaving are the shared sinks moved to dedicated delivery that still
	// deliver the records handed on before the move, by incarnation
	// (move.go).
	leaving map[string]leavingSink
	// handing are the moves to shared delivery still handing their
	// dedicated consumers' backlogs on, by incarnation: cancel, and
	// wait for it to have stopped.
	handing map[string]func()
}

// freed tells the deliverer that the shared sink of incarnation inc has
// room again (dispatch.Options.Freed).
func (s *sharedSinks) freed(inc string) {
	if d := s.deliverer.Load(); d != nil {
		d.Wake(inc)
	}
}

func newSharedSinks() *sharedSinks {
	return &sharedSinks{index: shared.NewIndex(), byInc: map[string]*runningSink{}, gone: map[string]string{},
		leaving: map[string]leavingSink{}, handing: map[string]func(){}}
}

// add makes rs the running sink of its incarnation.
func (s *sharedSinks) add(rs *runningSink) error {
	s.mu.Lock()
	s.byInc[rs.cfg.Incarnation] = rs
	delete(s.gone, rs.cfg.Name)
	s.mu.Unlock()
	return s.index.Put(rs.cfg.Incarnation, rs.cfg.FilterSubjects())
}

// remove stops offering rs records, unless a newer sink of its
// incarnation (a reload's) replaced it. It stays in the index, as a
// stopped dedicated sink keeps its consumer: a sink a reload removes from
// the file (without prune) or refuses (a narrower api.allow) keeps its
// events, parked, until it runs again or is deleted (forget).
//
// deleted says the sink itself is gone (its API record deleted, through
// this replica or another): it leaves the index at once, so no replica
// keeps handing on records for it.
func (s *sharedSinks) remove(rs *runningSink, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byInc[rs.cfg.Incarnation] != rs {
		return
	}
	delete(s.byInc, rs.cfg.Incarnation)
	s.gone[rs.cfg.Name] = rs.cfg.Incarnation
	if deleted {
		s.index.Remove(rs.cfg.Incarnation)
	}
}

// deletedSink says whether a stopping shared sink's definition is gone:
// an API sink whose name no longer holds its incarnation.
func (g *Gateway) deletedSink(sc config.Sink) bool {
	return !apisinks.IsFileIncarnation(sc) && g.endpoints.StoredIncarnation(sc.Name) != sc.Incarnation
}

// forget takes a removed shared sink out of the index and hands out its
// incarnation, once.
func (s *sharedSinks) forget(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.gone[name]
	delete(s.gone, name)
	if ok {
		s.index.Remove(inc)
	}
	return inc, ok
}

// SharedTarget implements shared.Sinks: a sink that does not run now but
// is indexed (removed or refused, not deleted) takes nothing, so its
// records are parked.
func (s *sharedSinks) SharedTarget(inc string) (shared.Target, bool) {
	s.mu.RLock()
	rs, ok := s.byInc[inc]
	l, leaving := s.leaving[inc]
	s.mu.RUnlock()
	if ok {
		return sharedTarget{rs}, true
	}
	if leaving {
		return l, true
	}
	if s.index.Has(inc) {
		return stoppedTarget{}, true
	}
	return nil, false
}

// stoppedTarget is a shared sink that does not run here now.
type stoppedTarget struct{}

func (stoppedTarget) Room() int                { return 0 }
func (stoppedTarget) Offer(jetstream.Msg) bool { return false }

// sharedTarget is a running shared sink as the deliverer sees it.
type sharedTarget struct{ rs *runningSink }

func (t sharedTarget) Room() int {
	switch t.rs.dispatcher.State() {
	case dispatch.StatePaused, dispatch.StateOpen:
		return 0
	}
	return t.rs.inbox - t.rs.dispatcher.Held()
}

func (t sharedTarget) Offer(m jetstream.Msg) bool { return t.rs.dispatcher.Offer(m) }

// FreesWithin implements shared.Draining: the time the sink takes to
// settle one record at its recent pace; 0 while it is held at the gate
// or settles nothing.
func (t sharedTarget) FreesWithin() time.Duration {
	switch t.rs.dispatcher.State() {
	case dispatch.StatePaused, dispatch.StateOpen:
		return 0
	}
	ok, failed := t.rs.dispatcher.Counts()
	rate := t.rs.pace.rate(ok+failed, time.Now())
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / rate)
}

// pace is a shared sink's recent settles per second, measured as the
// deliverer asks (every paceEvery at most).
type pace struct {
	mu      sync.Mutex
	settled uint64
	at      time.Time
	perSec  float64
}

const paceEvery = 100 * time.Millisecond

func (p *pace) rate(settled uint64, now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() {
		p.settled, p.at = settled, now
		return 0
	}
	if dt := now.Sub(p.at); dt >= paceEvery {
		cur := float64(settled-p.settled) / dt.Seconds()
		// Half the last period, half before: a sink that stops settling
		// is taken for slow within a few periods.
		p.perSec = (p.perSec + cur) / 2
		p.settled, p.at = settled, now
	}
	return p.perSec
}

// sharedInbox is how many records a shared sink holds unsettled: every
// worker busy and as many again ready, as a dedicated sink's pull window.
func sharedInbox(concurrency, maxBatch int) int { return max(2, 2*concurrency*maxBatch) }

// ensureMatcher makes the matchers' consumer before the first shared sink
// runs: it takes the events published from then on. A gateway that never
// ran a shared sink has none, so its events are not read a second time
// only to match nothing (the dedicated path's cost stays its own); once
// made, it stays, whatever the shared sinks that come and go.
func (g *Gateway) ensureMatcher(ctx context.Context) error {
	if g.matcherMade.Load() {
		return nil
	}
	err := g.retry.Do(ctx, "consumer "+subject.MatchConsumer, func(ctx context.Context) error {
		_, err := (&shared.Matcher{Stream: g.cfg.Stream.Name}).EnsureConsumer(ctx, g.bus.JS)
		return err
	})
	if err != nil {
		return err
	}
	g.matcherMade.Store(true)
	return nil
}

// openShared builds a shared sink: no consumer; its dispatcher runs only
// while it holds records.
func (g *Gateway) openShared(sc config.Sink, drv sink.Driver, batch int) *runningSink {
	inbox := sharedInbox(sc.Concurrency, batch)
	rs := &runningSink{cfg: sc, driver: drv, inbox: inbox,
		dispatcher: dispatch.New(dispatch.Options{
			Sink: sc, Driver: drv, MaxBatch: batch, JS: g.bus.JS,
			DLQ: g.dlq, Attempts: g.attempts, Metrics: g.metrics, Logger: g.log, Handbacks: g.handbacks,
			Share: g.peers.Count, IdleStop: sharedIdleStop, Inbox: inbox,
			// The records' clock is the delivery consumers' ack wait.
			KeepAlive: shared.DefaultAckWait / 3,
			Owner:     g.ownsShared(sc),
			Freed:     func() { g.shared.freed(sc.Incarnation) },
		})}
	if sc.Disabled {
		rs.dispatcher.Pause(disabledReason)
	}
	return rs
}

// sharedNameTaken refuses a file sink that takes the name of a shared
// API sink: the dead letters and waiting records of the name are the API
// sink's, which a file sink must not take over (a dedicated API sink's
// consumer refuses the file sink the same way).
func (g *Gateway) sharedNameTaken(sc config.Sink) error {
	if !apisinks.IsFileIncarnation(sc) {
		return nil
	}
	inc, ok := g.endpoints.SharedAPISink(sc.Name)
	if !ok {
		return nil
	}
	return gatewayapi.Conflictf("sink %s: its name belongs to the API sink %s (incarnation %s), whose dead letters and waiting records a file sink must not take over: "+
		"rename the file sink, or remove it from the file, delete the API sink (DELETE /v1/sinks/%s) and add it again", sc.Name, sc.Name, inc, sc.Name)
}

// ownsShared checks, after one of sc's dead letters is written, that the
// name is still sc's incarnation: if it was deleted or created again
// meanwhile, the dead letter is taken back.
func (g *Gateway) ownsShared(sc config.Sink) func(context.Context) error {
	return func(context.Context) error {
		if inc := g.endpoints.StoredIncarnation(sc.Name); !apisinks.IsFileIncarnation(sc) && inc != sc.Incarnation {
			return fmt.Errorf("%w: sink %s is incarnation %s now, not %s", bus.ErrSinkReplaced, sc.Name, inc, sc.Incarnation)
		}
		return nil
	}
}

// forgetShared purges what a deleted shared sink left in the deliveries
// stream: its due, waiting and parked records.
func (g *Gateway) forgetShared(ctx context.Context, name string) {
	inc, ok := g.shared.forget(name)
	if !ok {
		return
	}
	if err := shared.Purge(ctx, g.bus.JS, inc); err != nil {
		g.log.Warn("delete sink: shared records", "sink", name, "err", err)
	}
}
