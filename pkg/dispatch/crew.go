package dispatch

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// crew is a push run's workers for events sent one at a time: started as
// the offers need them, up to the sink's concurrency, rather than all at
// the run's start. Thousands of shared sinks each taking an event now
// and then so run a worker or two each, not their whole concurrency.
type crew struct {
	ctx, hard     context.Context
	msgs, offered chan jetstream.Msg
	d             *Dispatcher
	max           int32
	n             atomic.Int32 // workers started
	idle          atomic.Int32 // workers waiting for an event
	wg            sync.WaitGroup
}

func newCrew(d *Dispatcher, ctx, hard context.Context, msgs, offered chan jetstream.Msg) *crew {
	return &crew{d: d, ctx: ctx, hard: hard, msgs: msgs, offered: offered, max: int32(max(1, d.opts.Sink.Concurrency))}
}

// grow starts a worker when more events wait than workers do, below the
// concurrency. Called with the dispatcher's src held while the run is in
// progress (so never once the run has ended and wait may have begun).
func (c *crew) grow() {
	if int32(len(c.offered)) > c.idle.Load() && c.n.Load() < c.max {
		c.start()
	}
}

// fill starts every worker the concurrency allows: a source pulls (a
// replay), and its pulls are not offers the crew sees.
func (c *crew) fill() {
	for c.n.Load() < c.max {
		c.start()
	}
}

func (c *crew) start() {
	c.n.Add(1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.d.worker(c.ctx, c.hard, c.msgs, c.offered, &c.idle)
	}()
}

// wait blocks until every worker the crew started has ended; a nil crew
// (a run whose workers serve started) has none.
func (c *crew) wait() {
	if c != nil {
		c.wg.Wait()
	}
}
