package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keeper holds every message the dispatcher has pulled, or been offered,
// and not yet settled — waiting to be batched, at the gate behind a pause,
// an open breaker or the rate limiter, being sent, or waiting for its dead
// letter to be stored — and tells JetStream they are in progress before
// their AckWait runs out. Without it, a message held back longer than
// AckWait is redelivered while the stale copy is still queued, and both
// get sent.
//
// It is also where a message's credit comes back, once, whatever settles
// it: a pulled message's pull credit to its source, an offered message's
// place in the inbox (see Offer).
type keeper struct {
	mu   sync.Mutex
	held map[jetstream.Msg]*source
	// offered is how many held messages came from Offer and still take a
	// place in the inbox.
	offered int
	// activity counts every message held and let go, for the idle stop:
	// unchanged over a whole IdleStop, nothing happened meanwhile.
	activity uint64
	// freed is told each place in the inbox given back (Options.Freed).
	freed func()
}

// inbox stands, in the keeper, for the source of offered messages: their
// credit is a place in the dispatcher's inbox (keeper.offered), not a
// pull credit.
var inbox = &source{}

// holdLocked holds m: the set is made on the first message, and again
// after shrink.
func (k *keeper) holdLocked(m jetstream.Msg, src *source) {
	if k.held == nil {
		k.held = map[jetstream.Msg]*source{}
	}
	k.held[m] = src
}

// shrink drops the set while it is empty: a map keeps the room of its
// busiest moment, and an idle push-mode dispatcher keeps its keeper.
func (k *keeper) shrink() {
	k.mu.Lock()
	if len(k.held) == 0 {
		k.held = nil
	}
	k.mu.Unlock()
}

// add holds m, pulled from src.
func (k *keeper) add(m jetstream.Msg, src *source) {
	k.mu.Lock()
	k.holdLocked(m, src)
	k.activity++
	k.mu.Unlock()
}

// offer holds m, offered, if fewer than limit offered messages are held;
// it reports whether it did. A message held already is not taken twice.
func (k *keeper) offer(m jetstream.Msg, limit int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.offered >= limit {
		return false
	}
	if _, dup := k.held[m]; dup {
		return false
	}
	k.holdLocked(m, inbox)
	k.offered++
	k.activity++
	return true
}

// done lets m go once it is settled (or abandoned to AckWait) and gives
// its credit back: a pull credit to its source, or its place in the inbox.
func (k *keeper) done(m jetstream.Msg) {
	var freed func()
	k.mu.Lock()
	src, ok := k.held[m]
	if ok {
		delete(k.held, m)
		k.activity++
		if src == inbox {
			k.offered--
			src = nil
			freed = k.freed
		}
	}
	k.mu.Unlock()
	if src != nil {
		src.release(1)
	}
	if freed != nil {
		freed()
	}
}

// detach gives m's credit back while it stays held (kept alive): an
// event waiting behind its ordering key must not stop the source pulling,
// nor fill the inbox.
func (k *keeper) detach(m jetstream.Msg) {
	var freed func()
	k.mu.Lock()
	src, ok := k.held[m]
	if ok {
		k.held[m] = nil
		if src == inbox {
			k.offered--
			src = nil
			freed = k.freed
		}
	}
	k.mu.Unlock()
	if src != nil {
		src.release(1)
	}
	if freed != nil {
		freed()
	}
}

// count is how many messages are held.
func (k *keeper) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held)
}

// offeredCount is how many offered messages take a place in the inbox.
func (k *keeper) offeredCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.offered
}

// idle reports how many messages are held and the activity count.
func (k *keeper) idle() (held int, activity uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held), k.activity
}

// run sends in-progress acks for every held message each period until ctx
// ends. The set is bounded by the sources' pull windows and the inbox, so
// the cost is per tick, not per event.
func (k *keeper) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var batch []jetstream.Msg
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		batch = batch[:0]
		for m := range k.held {
			batch = append(batch, m)
		}
		k.mu.Unlock()
		for _, m := range batch {
			_ = m.InProgress()
		}
	}
}
