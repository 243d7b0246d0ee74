package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Push mode. A shared sink's dispatcher has no consumers of its own: a
// deliverer, serving many sinks from a few consumers, hands it messages
// with Offer. Thousands of such sinks live in one gateway, most of them
// idle, so an idle one owns no goroutine: the first Offer starts a run —
// the keeper, the workers and the batcher, exactly as Run has them — and
// the run ends once nothing has happened for IdleStop. Everything else
// (the gate and its pause and breaker, the status, the counts) lives in
// the Dispatcher and outlasts its runs.
//
// One lock (src) orders Offer, AddSource, the idle stop and the stop at
// the end of Start's context: an Offer either lands in the run in
// progress, which then cannot end idle as it holds the message, or finds
// no run and starts one.

// pushState is a push-mode dispatcher's: set by Start, read under src.
type pushState struct {
	inbox      int // most offered messages held unsettled
	grace      time.Duration
	cancelHard context.CancelFunc
	cur        *pushRun       // the run in progress; nil while idle
	runs       sync.WaitGroup // every run's goroutines
	done       chan struct{}  // closed once everything Start started has ended
	started    uint64         // runs started, for tests
}

// pushRun is one run: from the Offer (or AddSource) that found the
// dispatcher idle to the idle stop, or to the end of Start's context.
type pushRun struct {
	msgs    chan jetstream.Msg // the added sources' pullers → workers; closed to end the run
	offered chan jetstream.Msg // Offer → workers; room for the whole inbox
	ended   chan struct{}      // closed with msgs
	final   bool               // ended by the dispatcher's stop, not idle (under src)
	crew    *crew              // its workers, when events go one at a time; nil: all started with the run
}

// Start arms a push-mode dispatcher (Options.IdleStop > 0, no
// Options.Consumers) under ctx, the sink's life, without starting a
// goroutine: Offer and AddSource start a run when one is needed. When ctx
// ends, a run in progress stops exactly as Run does (the sources stop,
// deliveries in flight get until grace, what still waits is handed back),
// and Offer takes nothing more. wait blocks until everything Start
// started has ended (so, until after ctx ends). A second Start does
// nothing but return the first's wait.
func (d *Dispatcher) Start(ctx context.Context, grace time.Duration) (wait func()) {
	d.src.Lock()
	if p := d.push; p != nil {
		d.src.Unlock()
		return func() { <-p.done }
	}
	p := &pushState{inbox: d.opts.Inbox, grace: grace, done: make(chan struct{})}
	if p.inbox <= 0 {
		p.inbox = d.window()
	}
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	d.hardCtx, d.runCtx, p.cancelHard = hard, ctx, cancelHard
	d.push = p
	d.src.Unlock()
	// No goroutine until ctx ends (for a context of the standard library).
	context.AfterFunc(ctx, func() { d.stopPush(p) })
	return func() { <-p.done }
}

// Offer hands the sink one message. It returns false, and takes nothing,
// when the dispatcher already holds Inbox offered messages unsettled, is
// not armed (Start), or is stopping; the caller keeps the message then.
// The first Offer while no run is in progress starts one. Offer never
// waits for the sink's workers. A message taken is kept alive
// (InProgress) until settled — Ack, NakWithDelay, Term after its dead
// letter — or handed back at the stop, like a pulled one.
func (d *Dispatcher) Offer(m jetstream.Msg) bool {
	d.src.Lock()
	defer d.src.Unlock()
	p := d.push
	if p == nil || d.stopping || !d.keep.offer(m, p.inbox) {
		return false
	}
	r := d.runLocked()
	if d.lanes != nil && !d.admit(m) {
		return true // held, behind its ordering key
	}
	select {
	case r.offered <- m:
		if r.crew != nil {
			r.crew.grow()
		}
		return true
	default:
		// Never: each message in offered holds a place in the inbox, and
		// m has one, so offered has room.
		d.keep.done(m)
		return false
	}
}

// Held is how many offered messages the dispatcher holds unsettled now:
// at most Inbox. An ordered sink's events waiting behind their ordering
// key give their place back (as they give their pull credit back in pull
// mode) and are not counted, though kept.
func (d *Dispatcher) Held() int { return d.keep.offeredCount() }

// runLocked returns the run in progress, starting one if there is none.
// Called with src held, armed and not stopping.
func (d *Dispatcher) runLocked() *pushRun {
	p := d.push
	if p.cur != nil {
		return p.cur
	}
	d.prepareLocked()
	p.started++
	r := &pushRun{msgs: make(chan jetstream.Msg), offered: make(chan jetstream.Msg, p.inbox), ended: make(chan struct{})}
	p.cur, d.msgs = r, r.msgs
	if d.maxBatch == 1 {
		r.crew = newCrew(d, d.runCtx, d.hardCtx, r.msgs, r.offered)
		if d.lanes != nil {
			r.crew.fill() // the lanes hand events on through d.ready, unseen by grow
		}
	}
	in := inputs{msgs: r.msgs, offered: r.offered, ended: r.ended, crew: r.crew, shutdown: func() bool {
		d.src.Lock()
		defer d.src.Unlock()
		return r.final
	}}
	if d.opts.IdleStop > 0 {
		in.watch = func() { d.watchIdle(r) }
	}
	soft, hard := d.runCtx, d.hardCtx
	keepCtx, stopKeeping := context.WithCancel(hard)
	p.runs.Add(2)
	go func() {
		defer p.runs.Done()
		d.keep.run(keepCtx, d.keepEvery())
	}()
	go func() {
		defer p.runs.Done()
		defer stopKeeping()
		d.serve(soft, hard, p.cancelHard, p.grace, in)
	}()
	return r
}

// endRunLocked ends run r: its workers and batcher end once they see
// msgs closed. Called with src held.
func (d *Dispatcher) endRunLocked(r *pushRun, final bool) {
	r.final = final
	d.push.cur, d.msgs = nil, nil
	close(r.msgs)
	close(r.ended)
}

// watchIdle ends run r once, over a whole IdleStop, nothing was held,
// offered or settled and no source was added or pulling: so a run ends
// between IdleStop and twice that after its last message. It returns when
// r has ended, idle or at the stop.
func (d *Dispatcher) watchIdle(r *pushRun) {
	t := time.NewTimer(d.opts.IdleStop)
	defer t.Stop()
	_, seen := d.keep.idle()
	for {
		select {
		case <-r.ended:
			return
		case <-t.C:
		}
		if d.endIfIdle(r, &seen) {
			return
		}
		t.Reset(d.opts.IdleStop)
	}
}

// endIfIdle ends r if it has been idle since the activity count was
// *seen; it reports whether r has ended.
func (d *Dispatcher) endIfIdle(r *pushRun, seen *uint64) bool {
	d.src.Lock()
	defer d.src.Unlock()
	if d.push.cur != r {
		return true // ended at the stop
	}
	held, activity := d.keep.idle()
	if held > 0 || activity != *seen || d.pulling > 0 || len(d.sources) > 0 {
		*seen = activity
		return false
	}
	d.endRunLocked(r, false)
	d.keep.shrink()
	return true
}

// stopPush stops a push-mode dispatcher at the end of Start's context:
// as Run's end does, it stops the sources, ends the run in progress with
// its grace and hand-backs, and waits until everything has ended.
func (d *Dispatcher) stopPush(p *pushState) {
	d.stopSources() // stopping from here on: no Offer, no new run
	d.pullsClosed()
	d.src.Lock()
	if r := p.cur; r != nil {
		d.endRunLocked(r, true)
	}
	d.src.Unlock()
	p.runs.Wait()
	d.holders.Wait()
	d.setCoolDownTimer(nil) // nothing announced after the dispatcher stopped
	p.cancelHard()
	close(p.done)
}

// releaseOffered hands back, at the stop, what Offer gave the run and
// no worker took.
func (d *Dispatcher) releaseOffered(offered chan jetstream.Msg) {
	var b []jetstream.Msg
	for {
		select {
		case m := <-offered:
			b = append(b, m)
			continue
		default:
		}
		break
	}
	d.release(b)
}
