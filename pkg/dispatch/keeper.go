package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// keeper holds every message the dispatcher has pulled and not yet
// settled — waiting to be batched, at the gate behind a pause, an open
// breaker or the rate limiter, being sent, or waiting for its dead letter
// to be stored — and tells JetStream they are in progress before their
// AckWait runs out. Without it, a message held back longer than AckWait is
// redelivered while the stale copy is still queued, and both get sent.
type keeper struct {
	mu   sync.Mutex
	held map[jetstream.Msg]*source
}

func newKeeper() *keeper { return &keeper{held: map[jetstream.Msg]*source{}} }

// add holds m, pulled from src.
func (k *keeper) add(m jetstream.Msg, src *source) {
	k.mu.Lock()
	k.held[m] = src
	k.mu.Unlock()
}

// done lets m go once it is settled (or abandoned to AckWait) and gives
// its pull credit back to its source.
func (k *keeper) done(m jetstream.Msg) {
	k.mu.Lock()
	src, ok := k.held[m]
	delete(k.held, m)
	k.mu.Unlock()
	if ok && src != nil {
		src.release(1)
	}
}

// detach gives m's pull credit back while it stays held (kept alive): an
// event waiting behind its ordering key must not stop the source pulling.
func (k *keeper) detach(m jetstream.Msg) {
	k.mu.Lock()
	src := k.held[m]
	if _, ok := k.held[m]; ok {
		k.held[m] = nil
	}
	k.mu.Unlock()
	if src != nil {
		src.release(1)
	}
}

// count is how many messages are held.
func (k *keeper) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held)
}

// run sends in-progress acks for every held message each period until ctx
// ends. The set is bounded by the sources' pull windows, so the cost is per
// tick, not per event.
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
