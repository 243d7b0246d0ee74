package dispatch

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
)

// pullWait bounds one pull request of a busy source. Messages stream out
// of a pull as they arrive, so the wait costs no latency: it is how often
// a source asks again. An idle source doubles it, up to idlePullWait, so
// that thousands of idle sinks do not cost thousands of requests a second;
// a stop drains the pull in progress rather than wait for it to run out.
const (
	pullWait     = time.Second
	idlePullWait = 30 * time.Second
)

// Recreate brings back a consumer that JetStream lost (deleted by an
// operator, or gone with a server's state), from a position the gateway
// recorded, so the result is redelivery rather than a skip.
type Recreate func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error)

// source is one consumer being pulled. It pulls only as many messages as
// its window has credits for; a credit comes back when a message is
// settled. So everything pulled is in the dispatcher's hands (and kept
// alive by the keeper), never waiting unseen in a client-side buffer
// while its AckWait runs out.
type source struct {
	consumer jetstream.Consumer // only the puller goroutine replaces it
	ctx      context.Context    // ends with halt: drains the pull in progress
	cancel   context.CancelFunc
	accept   Accept
	recreate Recreate // nil: a lost consumer ends the source
	// incarnation, when set, is the sink incarnation the consumer must
	// belong to: every pull names its priority group, and the server refuses a
	// pull to another incarnation's consumer.
	incarnation string
	group       string // bus.IncarnationGroup(incarnation), drawn once, not per pull
	credits     chan struct{}
	stop        chan struct{}
	stopOnce    sync.Once
}

func newSource(c jetstream.Consumer, accept Accept, recreate Recreate, window int) *source {
	s := &source{consumer: c, accept: accept, recreate: recreate,
		credits: make(chan struct{}, window), stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for i := 0; i < window; i++ {
		s.credits <- struct{}{}
	}
	return s
}

// acquire waits for at least half the window's credits and takes every
// other one free. Half, not one: under load, credits come back one by one,
// and a pull for each would cost a request (and a subscription) per
// event; the half still in hand keeps every worker busy meanwhile.
func (s *source) acquire(ctx context.Context) (int, bool) {
	n := 0
	for want := max(1, cap(s.credits)/2); n < want; n++ {
		select {
		case <-s.credits:
		case <-s.stop:
			s.release(n)
			return 0, false
		case <-ctx.Done():
			s.release(n)
			return 0, false
		}
	}
	for n < cap(s.credits) {
		select {
		case <-s.credits:
			n++
			continue
		default:
		}
		break
	}
	return n, true
}

func (s *source) release(n int) {
	for i := 0; i < n; i++ {
		select {
		case s.credits <- struct{}{}:
		default: // never more than the window
		}
	}
}

func (s *source) halt() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.cancel()
	})
}

func (s *source) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// pull feeds out from src until the source is stopped. A stop drains the
// pull request in progress (see fetch): what it brought is handed out, and
// the workers give it straight back with a Nak rather than leave it to
// wait out AckWait.
func (d *Dispatcher) pull(ctx context.Context, src *source, out chan<- jetstream.Msg) {
	wait := pullWait
	for !src.stopped() {
		n, ok := src.acquire(ctx)
		if !ok {
			return
		}
		batch, err := d.fetch(src, n, wait)
		got := 0
		if err == nil {
			got = d.take(src, batch, out)
			err = batch.Error()
		}
		src.release(n - got)
		if got > 0 {
			wait = pullWait
		} else {
			wait = min(2*wait, idlePullWait)
		}
		if src.incarnation != "" && errors.Is(err, jetstream.ErrBadRequest) {
			if oerr := d.owned(ctx, src); errors.Is(oerr, bus.ErrSinkReplaced) {
				d.replaced(src, oerr)
				return
			}
		}
		if err == nil || errors.Is(err, context.Canceled) {
			continue
		}
		if d.consumerLost(ctx, src, err) {
			if !d.recover(ctx, src) {
				return
			}
			continue
		}
		if ctx.Err() == nil && !src.stopped() {
			d.log.Warn("pull", "consumer", src.consumer.CachedInfo().Name, "err", err)
			sleep(ctx, src.stop, 100*time.Millisecond)
		}
	}
}

// take hands out one pull's messages. Each is held (kept alive) the moment
// it arrives, not when the batcher is ready for it: while the workers are
// busy or the gate holds them, the rest of a pull must not wait unseen in
// the client's buffer with its AckWait running.
func (d *Dispatcher) take(src *source, batch jetstream.MessageBatch, out chan<- jetstream.Msg) (got int) {
	in := batch.Messages()
	var queue []jetstream.Msg
	for in != nil || len(queue) > 0 {
		var send chan<- jetstream.Msg
		var next jetstream.Msg
		if len(queue) > 0 {
			send, next = out, queue[0]
		}
		select {
		case m, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			got++
			d.keep.add(m, src)
			if src.accept != nil {
				if meta, err := m.Metadata(); err == nil && !src.accept(m, meta) {
					_ = m.Ack()
					d.keep.done(m)
					continue
				}
			}
			if d.lanes != nil && src.accept == nil && !d.admit(m) {
				continue // waits behind its ordering key
			}
			queue = append(queue, m)
		case send <- next:
			queue[0] = nil
			queue = queue[1:]
		}
	}
	return got
}

// owned checks that the consumer src pulls from is, now, of the sink's
// incarnation: after a pull the server refused (a pull names its
// incarnation's priority group, which another incarnation's consumer of
// the same name does not have), it tells that case from a passing one.
func (d *Dispatcher) owned(ctx context.Context, src *source) error {
	info := src.consumer.CachedInfo()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return bus.VerifyConsumer(cctx, d.opts.JS, info.Stream, info.Name, src.incarnation)
}

// replaced ends a source whose consumer belongs to another incarnation of
// the sink: this dispatcher's sink was deleted or created again, and
// everything of the name is the new sink's now. It never binds again; the
// gateway stops it when it applies the change.
func (d *Dispatcher) replaced(src *source, err error) {
	name := src.consumer.CachedInfo().Name
	reason := "consumer " + name + " is not this sink's any more (" + err.Error() + "): this source ends"
	d.setDegraded(CauseConsumer, reason)
	d.log.Error("sink deleted or created again elsewhere: its consumer is the new sink's, so this source ends", "consumer", name, "err", err)
	src.halt()
}

// consumerLost tells a lost consumer from a passing error.
func (d *Dispatcher) consumerLost(ctx context.Context, src *source, err error) bool {
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return true
	}
	if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrNoHeartbeat) {
		return false
	}
	info := src.consumer.CachedInfo()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, cerr := d.opts.JS.Consumer(cctx, info.Stream, info.Name)
	return errors.Is(cerr, jetstream.ErrConsumerNotFound)
}

// recover recreates a lost consumer, showing the sink degraded meanwhile.
// It reports false when the source must end.
func (d *Dispatcher) recover(ctx context.Context, src *source) bool {
	name := src.consumer.CachedInfo().Name
	if src.recreate == nil {
		d.log.Error("consumer lost; this source ends", "consumer", name)
		return false
	}
	d.setDegraded(CauseConsumer, "consumer "+name+" lost: recreating it from the recorded ack floor")
	d.log.Error("consumer lost: recreating it from the recorded ack floor", "consumer", name)
	wait := 100 * time.Millisecond
	for !src.stopped() && ctx.Err() == nil {
		c, err := src.recreate(ctx, src.consumer)
		if errors.Is(err, bus.ErrSinkReplaced) {
			d.replaced(src, err)
			return false
		}
		if err == nil {
			src.consumer = c
			d.opts.Metrics.ConsumersRecreated.WithLabelValues(d.opts.Sink.Name).Inc()
			d.clearDegraded(CauseConsumer)
			d.log.Warn("consumer recreated", "consumer", name)
			return true
		}
		d.log.Error("consumer not recreated yet", "consumer", name, "err", err)
		sleep(ctx, src.stop, wait)
		wait = min(2*wait, 10*time.Second)
	}
	return false
}

func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	case <-ctx.Done():
	}
}
