package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/sink"
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
}

func newSharedSinks() *sharedSinks {
	return &sharedSinks{index: shared.NewIndex(), byInc: map[string]*runningSink{}, gone: map[string]string{}}
}

// add makes rs the running sink of its incarnation.
func (s *sharedSinks) add(rs *runningSink) error {
	s.mu.Lock()
	s.byInc[rs.cfg.Incarnation] = rs
	delete(s.gone, rs.cfg.Name)
	s.mu.Unlock()
	return s.index.Put(rs.cfg.Incarnation, rs.cfg.FilterSubjects())
}

// remove takes rs out, unless a newer sink of its incarnation (a reload's)
// replaced it.
func (s *sharedSinks) remove(rs *runningSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byInc[rs.cfg.Incarnation] != rs {
		return
	}
	delete(s.byInc, rs.cfg.Incarnation)
	s.index.Remove(rs.cfg.Incarnation)
	s.gone[rs.cfg.Name] = rs.cfg.Incarnation
}

// forget hands out the incarnation of a removed shared sink, once.
func (s *sharedSinks) forget(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.gone[name]
	delete(s.gone, name)
	return inc, ok
}

// SharedTarget implements shared.Sinks.
func (s *sharedSinks) SharedTarget(inc string) (shared.Target, bool) {
	s.mu.RLock()
	rs, ok := s.byInc[inc]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return sharedTarget{rs}, true
}

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

// sharedInbox is how many records a shared sink holds unsettled: every
// worker busy and as many again ready, as a dedicated sink's pull window.
func sharedInbox(concurrency, maxBatch int) int { return max(2, 2*concurrency*maxBatch) }

// openShared builds a shared sink: no consumer; its dispatcher runs only
// while it holds records.
func (g *Gateway) openShared(sc config.Sink, drv sink.Driver, batch int) *runningSink {
	inbox := sharedInbox(sc.Concurrency, batch)
	rs := &runningSink{cfg: sc, driver: drv, inbox: inbox,
		dispatcher: dispatch.New(dispatch.Options{
			Sink: sc, Driver: drv, MaxBatch: batch, JS: g.bus.JS,
			DLQ: g.dlq, Attempts: g.attempts, Metrics: g.metrics, Logger: g.log, Handbacks: g.handbacks,
			Share: g.peers.Count, IdleStop: sharedIdleStop, Inbox: inbox,
		})}
	if sc.Disabled {
		rs.dispatcher.Pause(disabledReason)
	}
	return rs
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
