// Package gateway wires Switchyard together and owns its lifecycle: New
// opens the bus and ensures the streams; Run serves the admin API (the
// console mounted under it) and the ingest listener, starts one
// dispatcher per sink and the background components (replays, pauses,
// limits, ack floors, the replicas' heartbeat, the endpoints, auto-disable)
// under a supervisor that joins them in reverse at shutdown, and stops
// gracefully; Reload builds the new sinks, swaps them in and drains the old
// ones, and it runs what the endpoints decide the same way (endpoints.Host).
//
// Of the admin API's roles it answers health and the running sinks (their
// list, status, pause and resume) itself; Admin hands the others to the
// packages that own them (dead letters, replays, endpoints, events).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/autodisable"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/consumers"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/endpoints"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
	"github.com/switchyard-dev/switchyard/pkg/limits"
	"github.com/switchyard-dev/switchyard/pkg/pauses"
	"github.com/switchyard-dev/switchyard/pkg/replay"
	"github.com/switchyard-dev/switchyard/pkg/replicas"
	"github.com/switchyard-dev/switchyard/pkg/session"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/subject"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Options are the gateway's settings that do not come from the config file.
type Options struct {
	Logger  *slog.Logger
	Version string
	// Sinks opens the sinks' drivers; nil: sink.Default. The config must
	// have been loaded with the same kinds.
	Sinks *sink.Registry
}

// Gateway is one running Switchyard.
type Gateway struct {
	cfg   *config.Config
	kinds *sink.Registry // opens drivers
	log   *slog.Logger
	bus   *bus.Bus
	dlq   *deadletter.Store
	state jetstream.KeyValue
	// pauses are the sinks' pauses in the state bucket.
	pauses pauses.Store
	// handbacks counts the deliveries handed back unattempted (at a
	// reload or a stop), so that they spend no attempt.
	handbacks *dispatch.Handbacks
	store     *apisinks.Store // sinks created through the API
	consumers *consumers.Keeper
	attempts  *attempts.Log   // nil when the attempt log is off
	runCtx    context.Context // set by Run under reloadMu; nil before
	replays   *replay.Manager
	metrics   *telemetry.Metrics
	version   string
	mu        sync.RWMutex // guards sinks, byName and cfg.Sinks across reloads
	sinks     []*runningSink
	byName    map[string]*runningSink
	// endpoints compose what runs (cfg): the config file's sinks and the
	// API's that may run; every change goes through them (reload.go).
	endpoints *endpoints.Endpoints
	reloadMu  sync.Mutex // held while the running sinks change

	adminLn net.Listener
	ingest  *ingestServer       // nil when ingest.listen is empty
	admin   *adminServer        // serves adminLn from New on (startup.go)
	retry   *bus.Retrier        // waits out cluster elections; says what for
	peers   *replicas.Heartbeat // the replicas delivering with this one
	shared  *sharedSinks        // the running shared sinks and their index
	// matcherMade: the matchers' consumer exists (ensureMatcher).
	matcherMade atomic.Bool
	running     atomic.Bool
	stopOnce    sync.Once
	moves       sync.WaitGroup // the moves between deliveries still under way (move.go)
}

type runningSink struct {
	cfg        config.Sink
	driver     sink.Driver
	consumer   jetstream.Consumer
	dispatcher *dispatch.Dispatcher
	cancel     context.CancelFunc
	done       chan struct{} // closed when the dispatcher has stopped
	// A shared sink has no consumer: its dispatcher is offered records,
	// at most inbox unsettled, and wait returns once it has stopped.
	inbox int
	wait  func()
	pace  pace // how fast it settles, for the deliverer
}

// stopped waits until the sink's dispatcher has stopped.
func (rs *runningSink) stopped() {
	if rs.wait != nil {
		rs.wait()
		return
	}
	<-rs.done
}

// New connects, ensures the streams and every sink's consumers, opens the
// drivers and binds the admin listener. Nothing is delivered until Run.
func New(ctx context.Context, cfg *config.Config, opts Options) (_ *Gateway, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	g := &Gateway{cfg: cfg, log: opts.Logger, metrics: telemetry.NewMetrics(), byName: map[string]*runningSink{}, shared: newSharedSinks()}
	g.retry = &bus.Retrier{Log: g.log}
	defer func() {
		if err != nil {
			g.close(context.Background())
		}
	}()
	// Listening first: /readyz says what start-up waits for.
	if g.adminLn, err = listenAdmin(cfg.Admin); err != nil {
		return nil, err
	}
	g.serveStarting()
	if g.bus, err = bus.OpenWith(ctx, cfg, g.log, g.retry); err != nil {
		return nil, err
	}
	if err = g.bus.EnsureStreams(ctx); err != nil {
		return nil, err
	}
	g.dlq = &deadletter.Store{JS: g.bus.JS, Stream: cfg.DeadLetters.Stream}
	if g.state, err = g.bus.StateKV(ctx); err != nil {
		return nil, err
	}
	g.pauses = pauses.Store{KV: g.state, Retry: g.retry}
	g.peers = &replicas.Heartbeat{KV: g.state, Log: g.log, AdminAddr: g.AdminAddr()}
	g.replays = replay.New(replay.Config{JS: g.bus.JS, Stream: cfg.Stream.Name, KV: g.state, Sinks: replaySinks{g}, Log: g.log})
	if g.handbacks, err = dispatch.NewHandbacks(ctx, g.bus.JS, g.state); err != nil {
		return nil, err
	}
	if cfg.Attempts.On() {
		g.attempts = &attempts.Log{JS: g.bus.JS}
		if err = g.retry.Do(ctx, "stream "+attempts.StreamName, func(ctx context.Context) error {
			return g.attempts.Ensure(ctx, cfg.Attempts.MaxAge.D, cfg.Attempts.MaxBytes.N, cfg.Stream.Replicas)
		}); err != nil {
			return nil, err
		}
	}
	g.version = opts.Version
	g.kinds = opts.Sinks
	if g.kinds == nil {
		g.kinds = sink.Default
	}
	g.store = &apisinks.Store{State: g.state, Log: g.log}
	if g.store.KV, err = g.bus.SinksKV(ctx); err != nil {
		return nil, err
	}
	if g.store.Sealer, err = apisinks.NewSealer(cfg.Admin.SecretsKeyFile); err != nil {
		return nil, err
	}
	if g.store.Sealer == nil {
		g.log.Warn("admin.secrets_key_file is not set: sinks created through the API are stored with their secrets in plain text in the " + bus.SinksBucket + " bucket")
	}
	g.consumers = &consumers.Keeper{Bus: g.bus, Stream: cfg.Stream.Name, Handbacks: g.handbacks, State: g.state, Retry: g.retry, Current: g.store, Log: g.log}
	g.endpoints = endpoints.New(endpoints.Config{Host: endpointsHost{g}, Store: g.store, Kinds: g.kinds, File: cfg,
		JS: g.bus.JS, Stream: cfg.Stream.Name, Metrics: g.metrics, Log: g.log})
	if err = g.retry.Do(ctx, "kv "+bus.SinksBucket, g.endpoints.Load); err != nil {
		return nil, err
	}
	g.cfg = g.endpoints.Effective()
	for _, sc := range g.cfg.Sinks {
		rs, err := g.openSink(ctx, sc)
		if err != nil {
			return nil, err
		}
		g.sinks = append(g.sinks, rs)
		g.byName[sc.Name] = rs
	}
	if err = g.applyPauses(ctx); err != nil {
		return nil, err
	}
	g.metrics.Registry.MustRegister(limits.NewCollector(limitSinks{g}))
	if err = g.openIngest(); err != nil {
		return nil, err
	}
	return g, nil
}

// openSink opens a sink's driver, creates or updates its consumers and
// builds its dispatcher. Nothing is delivered until startSink.
func (g *Gateway) openSink(ctx context.Context, sc config.Sink) (*runningSink, error) {
	env := sink.Env{UserAgent: "switchyard/" + g.version, Disable: func(reason string) {
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Pause(pctx, sc.Name, reason); err != nil {
			g.log.Error("pause on the receiver's request", "sink", sc.Name, "err", err)
		}
	}, NATS: g.bus.Conn, Reserved: g.bus.Reserved()}
	if err := g.sharedNameTaken(sc); err != nil {
		return nil, err
	}
	drv, err := g.kinds.Open(ctx, sc, env)
	if err != nil {
		return nil, err
	}
	batch := g.kinds.BatchSize(sc)
	if sc.Shared() {
		if err := g.ensureMatcher(ctx); err != nil {
			_ = drv.Close(ctx)
			return nil, err
		}
		return g.openShared(sc, drv, batch), nil
	}
	events, redrive, err := g.ensureConsumers(ctx, sc, batch)
	if err != nil {
		_ = drv.Close(ctx)
		return nil, err
	}
	rs := &runningSink{cfg: sc, driver: drv, consumer: events, done: make(chan struct{}),
		dispatcher: dispatch.New(dispatch.Options{
			Sink: sc, Driver: drv, MaxBatch: batch, JS: g.bus.JS, Consumers: []jetstream.Consumer{events, redrive},
			DLQ: g.dlq, Attempts: g.attempts, Metrics: g.metrics, Logger: g.log, Handbacks: g.handbacks,
			Recreate: g.consumers.Recreate(sc, batch), Share: g.peers.Count,
		})}
	if sc.Disabled {
		// Held like a pause (the consumers are paused in JetStream, so no
		// replica pulls), but only a change of the definition lifts it.
		rs.dispatcher.Pause(disabledReason)
	}
	return rs, nil
}

const (
	stateDisabled  = "disabled"
	disabledReason = "disabled in the sink's definition"
)

// startSink runs a sink's dispatcher until stopSink or the end of ctx.
func (g *Gateway) startSink(ctx context.Context, rs *runningSink) {
	sctx, cancel := context.WithCancel(ctx)
	rs.cancel = cancel
	grace := g.shutdownGrace()
	if rs.cfg.Shared() {
		rs.wait = rs.dispatcher.Start(sctx, grace)
		if err := g.shared.add(rs); err != nil {
			g.log.Error("shared sink not indexed: it gets no events", "sink", rs.cfg.Name, "err", err)
		}
		return
	}
	go func() {
		defer close(rs.done)
		if err := rs.dispatcher.Run(sctx, grace); err != nil {
			g.log.Error("dispatcher stopped", "sink", rs.cfg.Name, "err", err)
		}
	}()
}

// shutdownGrace is the grace in force; a reload may change it.
func (g *Gateway) shutdownGrace() time.Duration {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.cfg.ShutdownGrace.D
}

// stopSink stops pulling for a sink, lets its deliveries in flight finish
// (within the shutdown grace), hands the rest back and closes its driver.
func (g *Gateway) stopSink(ctx context.Context, rs *runningSink) {
	if rs.cfg.Shared() {
		g.shared.remove(rs, g.deletedSink(rs.cfg)) // offered nothing more
	}
	if rs.cancel != nil {
		rs.cancel()
		rs.stopped()
	}
	_ = rs.driver.Close(ctx)
}

// sinkList is a snapshot of the running sinks.
func (g *Gateway) sinkList() []*runningSink {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return append([]*runningSink(nil), g.sinks...)
}

// Bus is the gateway's NATS connection; producers in the same process and
// tests publish through it.
func (g *Gateway) Bus() *bus.Bus { return g.bus }

// AdminAddr is the admin API's bound address.
func (g *Gateway) AdminAddr() string { return g.adminLn.Addr().String() }

// Metrics exposes the gateway's metrics registry.
func (g *Gateway) Metrics() *telemetry.Metrics { return g.metrics }

// Run delivers until ctx is done, then stops: no new pulls, in-flight
// deliveries get the shutdown grace to finish, the rest go back to
// JetStream, drivers and the bus close.
func (g *Gateway) Run(ctx context.Context) error {
	// Whatever ends Run (its context, or the admin server failing) stops
	// the sinks, the watchers and the replays through this context.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var sup supervisor
	if err := sup.start(ctx, g.replays); err != nil {
		return err
	}
	adminLog := g.log.With("component", "admin")
	srv, srvErr := g.admin.serve(g.AdminHandler(admin.Options{
		Token: g.cfg.Admin.Token, InsecureNoAuth: g.cfg.Admin.InsecureNoAuth,
		Logger: adminLog, Registerer: g.metrics.Registry,
		Sessions: session.New(session.Options{Token: g.cfg.Admin.Token, Store: session.KVStore{KV: g.state}, TLS: g.cfg.Admin.TLS.Enabled(), Logger: adminLog}),
	}))
	ingestErr := g.serveIngest()

	// Components start in order and are joined in reverse, after the
	// sinks have drained; the replays, started first, are joined last.
	_ = sup.start(ctx, // cannot fail
		lifecycle.Go(&pauses.Watcher{Store: g.pauses, Target: pauseTarget{g}, Log: g.log}),
		lifecycle.Go(&limits.Watcher{JS: g.bus.JS, Stream: g.cfg.Stream.Name, MaxAge: g.cfg.Stream.MaxAge.D,
			Sinks: limitSinks{g}, Metrics: g.metrics, Log: g.log}),
	)
	// The recorder's last round must read the floors the sinks' drain
	// settled: its context ends when the components are joined, after the
	// sinks are done, not at stop (a round then, racing the drain, could
	// record no floor, and a consumer lost while the gateway is down would
	// restart at "now", past what it never delivered).
	_ = sup.start(context.WithoutCancel(ctx), lifecycle.Go(&ackfloor.Recorder{KV: g.state, Sinks: ackFloorSinks{g}, Log: g.log})) // cannot fail
	_ = sup.start(ctx, lifecycle.Go(g.peers))                                                                                     // cannot fail

	g.reloadMu.Lock()
	g.runCtx = ctx
	for _, rs := range g.sinkList() {
		g.startSink(ctx, rs)
	}
	g.resumeMoves(ctx) // before the matchers start
	g.resumeLeaving(ctx)
	g.reloadMu.Unlock()
	g.running.Store(true)
	// After running: the changes they apply go through the reload path.
	deliverer := &shared.Deliverer{Conn: g.bus.Conn, Sinks: g.shared, Log: g.log, Current: g.store.Current}
	g.shared.deliverer.Store(deliverer)
	_ = sup.start(ctx, // cannot fail
		lifecycle.Go(&shared.Matcher{Conn: g.bus.Conn, Stream: g.cfg.Stream.Name, Index: g.shared.index, Log: g.log, Current: g.store.Current}),
		lifecycle.Go(deliverer),
	)
	_ = sup.start(ctx, g.endpoints)                                                                                // cannot fail
	_ = sup.start(ctx, lifecycle.Go(&autodisable.Watcher{Sinks: failingSinks{g}, Metrics: g.metrics, Log: g.log})) // cannot fail
	g.log.Info("switchyard running", "nats", g.bus.ClientURL(), "admin", g.AdminAddr(), "sinks", len(g.sinkList()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
		err = fmt.Errorf("admin server: %w", err)
	case err = <-ingestErr:
	}
	stop()
	g.running.Store(false)
	g.log.Info("stopping: no new pulls, finishing deliveries in flight", "grace", g.shutdownGrace())
	g.reloadMu.Lock() // no reload may start a sink now
	for _, rs := range g.sinkList() {
		rs.stopped()
	}
	g.reloadMu.Unlock()
	g.moves.Wait() // they end with ctx

	_ = sup.stop() // each replay deletes its consumer as it ends
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	g.shutdownIngest(shutCtx)
	g.close(shutCtx)
	g.log.Info("stopped")
	return err
}

func (g *Gateway) close(ctx context.Context) {
	g.stopOnce.Do(func() {
		for _, rs := range g.sinkList() {
			if rs.driver != nil {
				_ = rs.driver.Close(ctx)
			}
		}
		if g.attempts != nil {
			// The last batches of attempt records, before the connection goes.
			g.attempts.Close()
		}
		if g.admin != nil {
			_ = g.admin.srv.Close() // the start-up answers' connections too
		}
		if g.adminLn != nil {
			_ = g.adminLn.Close()
		}
		g.closeIngest()
		if g.bus != nil {
			g.bus.Close()
		}
	})
}

// ErrNotRunning is returned by what needs a running gateway (a reload, a
// replay) when called before Run or once it is stopping.
var ErrNotRunning = gatewayapi.ErrNotRunning

// Ready says whether this replica can serve: running, NATS connected and
// every consumer bound. The admin API's /readyz answers it.
func (g *Gateway) Ready(ctx context.Context) error {
	if !g.running.Load() {
		return g.notRunning()
	}
	if !g.bus.Connected() {
		return errors.New("nats not connected")
	}
	// A probe's answer within its timeout: a link that drops everything
	// would otherwise hold each Info for JetStream's default 5 s.
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	probedShared := false
	for _, rs := range g.sinkList() {
		if rs.consumer == nil {
			// Shared: no consumer of its own. The matchers' consumer
			// stands for them all, once: a replica whose link to
			// JetStream drops everything is not ready for its shared
			// sinks either.
			if !probedShared {
				probedShared = true
				if _, err := g.bus.JS.Consumer(ctx, g.cfg.Stream.Name, subject.MatchConsumer); err != nil {
					return fmt.Errorf("shared delivery: consumer %s: %w", subject.MatchConsumer, err)
				}
			}
			continue
		}
		if _, err := rs.consumer.Info(ctx); err != nil {
			return fmt.Errorf("sink %s: consumer: %w", rs.cfg.Name, err)
		}
	}
	return nil
}

func (g *Gateway) sink(name string) (*runningSink, error) {
	if err := gatewayapi.CheckName(name); err != nil {
		return nil, err
	}
	g.mu.RLock()
	rs, ok := g.byName[name]
	g.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, name)
	}
	return rs, nil
}
