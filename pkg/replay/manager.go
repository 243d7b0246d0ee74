// Package replay re-delivers a time range of the events stream to one
// sink, through a temporary consumer that the sink's dispatcher pulls like
// its own. It owns the replays' lifetime on this replica (start, progress,
// cancel, hand-over at a reload, pruning of finished ones) and their
// sharing with the other replicas through the state bucket. It needs of
// the gateway only the running sinks (Sinks).
package replay

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Dispatcher is a sink's dispatcher as a replay uses it: it delivers from
// one more consumer through the sink's own batching, gate, retries and
// dead letters, until stop.
type Dispatcher interface {
	AddSource(c jetstream.Consumer, accept dispatch.Accept) (stop func(), err error)
}

// Sinks are the gateway's running sinks as replays need them.
type Sinks interface {
	// Hold calls fn with the running sink called name and its dispatcher
	// while no reload can swap them, so that a replay registered by fn is
	// one the next reload hands over (HandOff). An unknown sink is
	// gatewayapi.ErrUnknownSink.
	Hold(name string, fn func(config.Sink, Dispatcher) error) error
}

// Config is what a Manager works with.
type Config struct {
	JS     jetstream.JetStream
	Stream string             // the events stream; a reload never changes it
	KV     jetstream.KeyValue // the state bucket; nil: nothing shared
	Sinks  Sinks
	Log    *slog.Logger
}

// Manager runs this replica's replays: it starts them on a sink's
// dispatcher, hands them over when a reload rebuilds the sink, keeps the
// finished ones for a while (see pruneLocked), and shares them with the
// other replicas. It is a component: replays start only between Start and
// Stop, and Stop joins them. Its StartReplay, Replays, Replay and
// CancelReplay are the admin API's.
type Manager struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream string
	sinks  Sinks
	log    *slog.Logger

	mu          sync.Mutex
	ctx         context.Context // Start's; nil until Start
	stopCtx     context.CancelFunc
	stopped     bool // Stop was called: no new replay
	replays     map[string]*replay
	retention   time.Duration
	maxFinished int
	wg          sync.WaitGroup // the watchers and the cancel watch
}

// Finished replays are kept this long, and at most this many, so that
// their outcome can be read; then they are dropped.
const (
	DefaultRetention   = time.Hour
	DefaultMaxFinished = 100
)

// New is a Manager that starts no replay until Start.
func New(c Config) *Manager {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Manager{js: c.JS, kv: c.KV, stream: c.Stream, sinks: c.Sinks, log: c.Log,
		replays: map[string]*replay{}, retention: DefaultRetention, maxFinished: DefaultMaxFinished}
}

// SetRetention changes how long finished replays are kept, and how many
// at most; tests shorten them.
func (m *Manager) SetRetention(d time.Duration, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retention, m.maxFinished = d, n
}

// Start lets replays start; they, and the watch for cancels asked through
// other replicas, end with ctx or Stop.
func (m *Manager) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.mu.Lock()
	m.ctx, m.stopCtx = ctx, cancel
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		m.watchCancels(ctx)
	}()
	return nil
}

// Stop refuses new replays, ends the running ones and returns once their
// watchers have deleted their consumers.
func (m *Manager) Stop() error {
	m.mu.Lock()
	m.stopped = true
	cancel := m.stopCtx
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	return nil
}

// running is nil when replays may start, else gatewayapi.ErrNotRunning.
func (m *Manager) running() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runningLocked()
}

func (m *Manager) runningLocked() error {
	if m.ctx == nil || m.stopped {
		return gatewayapi.ErrNotRunning
	}
	return nil
}

// StartReplay starts a replay of a time range of the stream to one sink.
// Before Start, or once Stop is called, it returns ErrNotRunning.
func (m *Manager) StartReplay(ctx context.Context, sink string, req gatewayapi.ReplayRequest) (st gatewayapi.ReplayStatus, err error) {
	err = m.sinks.Hold(sink, func(sc config.Sink, d Dispatcher) error {
		st, err = m.start(ctx, sc, d, req)
		return err
	})
	return st, err
}

// Replays is every replay this replica keeps, and those the other
// replicas share.
func (m *Manager) Replays() []gatewayapi.ReplayStatus {
	m.mu.Lock()
	dropped := m.pruneLocked(time.Now())
	out := make([]gatewayapi.ReplayStatus, 0, len(m.replays))
	local := map[string]bool{}
	for id, r := range m.replays {
		out = append(out, r.status())
		local[id] = true
	}
	m.mu.Unlock()
	m.unshareAll(dropped)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return append(out, m.sharedList(ctx, local)...)
}

// Replay is a replay's progress, this replica's or another's.
func (m *Manager) Replay(id string) (gatewayapi.ReplayStatus, error) {
	m.mu.Lock()
	dropped := m.pruneLocked(time.Now())
	r, ok := m.replays[id]
	m.mu.Unlock()
	m.unshareAll(dropped)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return m.shared(ctx, id) // another replica's
	}
	return r.status(), nil
}

// cancelWait bounds how long CancelReplay waits for the replay to end.
const cancelWait = 5 * time.Second

// CancelReplay ends a replay, here or through the replica running it, and
// waits briefly for it to stop.
func (m *Manager) CancelReplay(id string) (gatewayapi.ReplayStatus, error) {
	m.mu.Lock()
	r, ok := m.replays[id]
	m.mu.Unlock()
	if !ok {
		return m.requestCancel(id) // another replica runs it
	}
	r.cancel()
	t := time.NewTimer(cancelWait)
	defer t.Stop()
	select {
	case <-r.ended:
	case <-t.C:
	}
	return r.status(), nil
}

// HandOff moves the running replays of sinks a reload rebuilt to their
// new dispatchers (fresh, by sink; the old ones are about to stop, and
// with them the sources they pull), and ends the replays of sinks it
// removed. The caller holds what Sinks.Hold holds and has started the new
// dispatchers.
func (m *Manager) HandOff(fresh map[string]Dispatcher, removed []string) {
	m.mu.Lock()
	ctx := m.ctx
	var running []*replay
	for _, r := range m.replays {
		if r.status().State == "running" {
			running = append(running, r)
		}
	}
	m.mu.Unlock()
	if ctx == nil {
		ctx = context.Background() // no replay runs before Start
	}
	for _, r := range running {
		name := r.status().Sink
		if slices.Contains(removed, name) {
			r.end("sink " + name + " removed by a reload")
			continue
		}
		d, ok := fresh[name]
		if !ok {
			continue // unchanged: its dispatcher keeps running
		}
		stop, err := attachSource(ctx, d, r.cons, r.accept)
		if err != nil {
			m.log.Error("reload: replay not handed to the new dispatcher", "replay", r.status().ID, "sink", name, "err", err)
			r.end("reload: " + err.Error())
			continue
		}
		r.setSource(stop)
		m.log.Info("reload: replay handed to the new dispatcher", "replay", r.status().ID, "sink", name)
	}
}
