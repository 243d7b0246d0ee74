package dispatch

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// State is what a sink's deliveries are doing.
type State string

const (
	StateRunning  State = "running"
	StatePaused   State = "paused"    // an operator (or the receiver) paused the sink
	StateOpen     State = "open"      // the breaker holds deliveries back until the cool-down ends
	StateHalfOpen State = "half_open" // the breaker lets single probes through
)

// verdict is what one delivery attempt says about the destination's
// health, for the breaker and the limiter. (The attempt's outcome — as the
// metrics and the attempt log name it — is another thing: a 410 is a
// dead-letter outcome and a neutral verdict.)
type verdict int

const (
	verdictHealthy     verdict = iota
	verdictFailing             // the destination is unwell: counts for the breaker
	verdictRateLimited         // the destination asked us to slow down
	verdictNeutral             // says nothing about the destination's health
)

// gate decides when a delivery may start: not while the sink is paused or
// its breaker open, one probe at a time while half-open, and no faster
// than the rate limit. Events waiting at the gate were not attempted, so
// they do not count as attempts.
type gate struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	paused  bool
	reason  string
	// why the breaker last opened, for status
	openReason string
	breaker    *breaker
	probing    bool
	limiter    *adaptiveLimiter
	now        func() time.Time
	onChange   func(from, to State, reason string, until time.Time)
	// applied is closed once the effects of the last change made so far
	// are applied (see transition).
	applied chan struct{}
}

// turn is a change's place in the order the gate made the changes: its
// effects start once prev is closed, and it closes done after them.
type turn struct{ prev, done chan struct{} }

func newGate(s config.Sink, maxBatch int, onChange func(from, to State, reason string, until time.Time)) *gate {
	g := &gate{changed: make(chan struct{}), now: time.Now, onChange: onChange, applied: make(chan struct{})}
	close(g.applied)
	if s.Breaker.On() {
		g.breaker = &breaker{cfg: s.Breaker}
	}
	if s.RateLimit == "" {
		return g
	}
	if r, err := config.ParseRate(s.RateLimit); err == nil {
		burst := s.RateLimitBurst
		if burst == 0 {
			burst = int(math.Ceil(r))
		}
		g.limiter = newAdaptiveLimiter(r, max(burst, maxBatch))
		g.limiter.minBurst = maxBatch
	}
	return g
}

// stateLocked is the current state, moving open to half-open once the
// cool-down is over.
func (g *gate) stateLocked() State {
	switch {
	case g.paused:
		return StatePaused
	case g.breaker == nil:
		return StateRunning
	}
	return g.breaker.state(g.now())
}

// State reports the gate's state.
func (g *gate) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stateLocked()
}

func (g *gate) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// takeTurnLocked places a change, made under the lock, after every change
// made before it. Its holder must pass it to transition.
func (g *gate) takeTurnLocked() turn {
	t := turn{prev: g.applied, done: make(chan struct{})}
	g.applied = t.done
	return t
}

// transition applies a change's effects (the change callback) outside the
// lock, in the change's turn: after the effects of every change made
// before it, and before those of any change made after it. The effects
// take a while (the consumers paused or resumed in JetStream, then the
// state event and gauge), and the goroutines making two changes run in
// any order: without turns a breaker that opened and closed again could
// publish "open" last and leave the gauge on it, and a pause and resume
// could leave the consumers paused while the sink runs.
func (g *gate) transition(t turn, from, to State, reason string, until time.Time) {
	<-t.prev
	defer close(t.done)
	if g.onChange != nil {
		g.onChange(from, to, reason, until)
	}
}

// coolDownOver makes the end of the breaker's cool-down that ends at
// until a change like the others, in its turn: JetStream resumes the
// consumers on its own then, and this says so. A cool-down already ended
// by a probe's answer, or since replaced by another, is not announced.
func (g *gate) coolDownOver(until time.Time) {
	g.mu.Lock()
	if g.breaker == nil || g.stateLocked() != StateHalfOpen || !g.breaker.until.Equal(until) {
		g.mu.Unlock()
		return
	}
	t := g.takeTurnLocked()
	g.mu.Unlock()
	g.transition(t, StateOpen, StateHalfOpen, "cool-down over: probing", time.Time{})
}

// wait blocks until a delivery of n events may start. probe is true when
// the delivery is the half-open breaker's probe; record must follow.
func (g *gate) wait(ctx context.Context, n int) (probe bool, err error) {
	for {
		g.mu.Lock()
		st := g.stateLocked()
		ch := g.changed
		var until time.Time
		if st == StateOpen {
			until = g.breaker.until
		}
		if st == StateHalfOpen && !g.probing {
			g.probing = true
			g.mu.Unlock()
			probe = true
			break
		}
		g.mu.Unlock()
		if st == StateRunning {
			break
		}
		var timer *time.Timer
		var expired <-chan time.Time
		if !until.IsZero() {
			timer = time.NewTimer(time.Until(until))
			expired = timer.C
		}
		select {
		case <-ctx.Done():
		case <-ch:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	if g.limiter != nil {
		if err := g.limiter.wait(ctx, n); err != nil {
			if probe {
				g.record(true, verdictNeutral)
			}
			return false, err
		}
	}
	return probe, nil
}

// record feeds an attempt's verdict to the breaker and the limiter.
func (g *gate) record(probe bool, o verdict) {
	if g.limiter != nil {
		switch o {
		case verdictRateLimited:
			g.limiter.slowDown()
		case verdictHealthy:
			g.limiter.recover()
		}
	}
	g.mu.Lock()
	if probe {
		g.probing = false
		g.broadcastLocked()
	}
	if g.breaker == nil {
		g.mu.Unlock()
		return
	}
	now := g.now()
	from := g.stateLocked()
	reason := g.breaker.record(now, probe, o, from)
	if reason != "" {
		g.openReason = "breaker opened: " + reason
	}
	to := g.stateLocked()
	until := g.breaker.until
	if from == to {
		g.mu.Unlock()
		return
	}
	g.broadcastLocked()
	t := g.takeTurnLocked()
	g.mu.Unlock()
	g.transition(t, from, to, reason, until)
}

// Reason says why the gate holds deliveries back, if it does.
func (g *gate) Reason() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch g.stateLocked() {
	case StatePaused:
		return g.reason
	case StateOpen, StateHalfOpen:
		return g.openReason
	}
	return ""
}

// setPaused pauses or resumes; it reports whether anything changed.
func (g *gate) setPaused(paused bool, reason string) bool {
	g.mu.Lock()
	from := g.stateLocked()
	if g.paused == paused {
		g.mu.Unlock()
		return false
	}
	g.paused, g.reason = paused, reason
	to := g.stateLocked()
	// Resumed while the breaker's cool-down runs: the consumers stay
	// paused until it ends, not a moment longer or shorter.
	var until time.Time
	if to == StateOpen {
		until = g.breaker.until
	}
	g.broadcastLocked()
	t := g.takeTurnLocked()
	g.mu.Unlock()
	g.transition(t, from, to, reason, until)
	return true
}

// breaker is the circuit breaker's state machine; the gate locks it.
type breaker struct {
	cfg         config.Breaker
	open        bool
	until       time.Time // end of the cool-down while open
	consecutive int
	window      rollingCounts
}

func (b *breaker) state(now time.Time) State {
	switch {
	case !b.open:
		return StateRunning
	case now.Before(b.until):
		return StateOpen
	}
	return StateHalfOpen
}

// record returns why the breaker opened, if it did.
func (b *breaker) record(now time.Time, probe bool, o verdict, st State) string {
	if o == verdictNeutral || o == verdictRateLimited {
		return ""
	}
	failed := o == verdictFailing
	b.window.add(now, b.cfg.Window.D, failed)
	if !failed {
		b.consecutive = 0
		if st == StateHalfOpen && probe {
			b.open = false
			b.window.reset()
		}
		return ""
	}
	b.consecutive++
	reason := ""
	switch {
	case st == StateHalfOpen && probe:
		reason = "probe failed"
	case st != StateRunning:
		return ""
	case b.consecutive >= b.cfg.ConsecutiveFailures:
		reason = "consecutive failures"
	default:
		n, f := b.window.counts(now, b.cfg.Window.D)
		if n < b.cfg.MinRequests || float64(f)/float64(n) < b.cfg.FailureRate {
			return ""
		}
		reason = "failure rate"
	}
	b.open, b.until = true, now.Add(b.cfg.CoolDown.D)
	return reason
}

// adaptiveLimiter is a token bucket that halves its rate when the receiver
// answers 429/503 and climbs back towards the configured rate while
// deliveries succeed. The configured rate is the sink's as a whole: with
// share saying N replicas deliver for it, this one keeps to rate/N.
type adaptiveLimiter struct {
	mu        sync.Mutex
	full      rate.Limit // the configured rate
	fullBurst int
	minBurst  int        // a batch must fit
	base      rate.Limit // this replica's part of full
	lim       *rate.Limiter
	lastRaise time.Time
	share     func() int // replicas sharing the rate; nil: 1
	n         atomic.Int64
}

func newAdaptiveLimiter(perSecond float64, burst int) *adaptiveLimiter {
	a := &adaptiveLimiter{full: rate.Limit(perSecond), fullBurst: burst, minBurst: burst,
		base: rate.Limit(perSecond), lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
	a.n.Store(1)
	return a
}

func (a *adaptiveLimiter) wait(ctx context.Context, n int) error {
	if a.share != nil {
		// One atomic load per delivery; the replica count itself is kept
		// by a heartbeat, off the delivery path.
		if k := int64(max(1, a.share())); k != a.n.Load() {
			a.setShare(k)
		}
	}
	return a.lim.WaitN(ctx, min(n, a.lim.Burst()))
}

// setShare makes this limiter one of k: rate and burst divided by k, and
// a slow-down in progress kept in proportion.
func (a *adaptiveLimiter) setShare(k int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.n.Load()
	if k == old {
		return
	}
	a.base = a.full / rate.Limit(k)
	a.lim.SetLimit(a.lim.Limit() * rate.Limit(old) / rate.Limit(k))
	a.lim.SetBurst(max(int(math.Ceil(float64(a.fullBurst)/float64(k))), a.minBurst))
	a.n.Store(k)
}

func (a *adaptiveLimiter) slowDown() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lim.SetLimit(max(a.lim.Limit()/2, a.base/20))
	a.lastRaise = time.Now()
}

func (a *adaptiveLimiter) recover() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := a.lim.Limit(); cur < a.base && time.Since(a.lastRaise) >= time.Second {
		a.lim.SetLimit(min(a.base, cur*1.25+a.base/20))
		a.lastRaise = time.Now()
	}
}
