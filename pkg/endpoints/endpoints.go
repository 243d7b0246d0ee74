package endpoints

import (
	"context"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Host is what runs the sinks: the gateway.
type Host interface {
	// Running says whether the host runs sinks (between its start and
	// its stop); changes are refused otherwise.
	Running() bool
	// Apply makes next's sinks the running ones, building new ones before
	// stopping old ones; prune deletes the consumers of removed sinks.
	// gatewayapi.ErrNotRunning when the host does not run.
	Apply(ctx context.Context, next *config.Config, prune bool) (config.Plan, error)
	// ApplySink makes next the running sink called name (nil: none runs
	// under it) as Apply would, touching no other sink: one API sink's
	// change costs the same whatever the number of sinks.
	// gatewayapi.ErrNotRunning when the host does not run.
	ApplySink(ctx context.Context, name string, next *config.Sink) error
	// Sinks are the running sinks' definitions.
	Sinks() []config.Sink
	// Sink is the running sink called name.
	Sink(name string) (config.Sink, bool)
	// Status is the running sink's live state; disabledBy, when set, is
	// why its definition disables it.
	Status(ctx context.Context, name, disabledBy string) (gatewayapi.SinkStatus, bool)
	// Send sends batch through the running sink's driver, around its
	// stream and retries.
	Send(ctx context.Context, name string, batch []*event.Event, observe sink.Observer) error
	// Forget removes what a sink of this name left: its consumers,
	// dead letters, pause and ack floor.
	Forget(ctx context.Context, name string)
	// DropConsumers deletes the consumers of sinks that no longer run.
	DropConsumers(ctx context.Context, names []string)
}

// Config is what the endpoints work with.
type Config struct {
	Host  Host
	Store *apisinks.Store
	Kinds *sink.Registry
	// File is the config file's config at start; Reload replaces it.
	File *config.Config
	// JS and Stream find the consumers that hold a name (kept state).
	JS      jetstream.JetStream
	Stream  string
	Metrics *telemetry.Metrics
	Log     *slog.Logger
}

// Endpoints are the API sinks as this replica knows them, and the
// config file's, composed into what the host runs.
type Endpoints struct {
	host    Host
	store   *apisinks.Store
	kinds   *sink.Registry
	js      jetstream.JetStream
	stream  string
	metrics *telemetry.Metrics
	log     *slog.Logger
	expiry  *apisinks.Expiry  // ends rotated-out secrets' grace
	watcher *apisinks.Watcher // applies the other replicas' changes

	// change serializes the changes: each is applied through the host
	// before the next is judged. A change of all the sinks (a reload, the
	// expiry) holds it; a change of one holds it for reading and that
	// sink's name (changeOne), so that changes of different sinks wait
	// for one another only in the host. It is taken before the host's own
	// locks.
	change sync.RWMutex
	byName nameLocks
	mu     sync.RWMutex // guards file, api and what is counted of it; never held across a call to the host
	file   *config.Config
	api    map[string]*apisinks.Sink
	// notRunning counts the API sinks that do not run, by why
	// (notRunningKind), and expiring holds those with rotated-out secrets
	// in their grace: both follow each change, so that a change of one
	// sink does not go over all of them (counted.go).
	notRunning map[string]int
	expiring   map[string]apisinks.Pending
}

// New builds the endpoints; Load reads the stored API sinks.
func New(c Config) *Endpoints {
	e := &Endpoints{host: c.Host, store: c.Store, kinds: c.Kinds, js: c.JS, stream: c.Stream, metrics: c.Metrics, log: c.Log,
		file: c.File, api: map[string]*apisinks.Sink{}}
	e.expiry = &apisinks.Expiry{Expire: e.expire}
	e.watcher = &apisinks.Watcher{Store: c.Store, Target: watchTarget{e}}
	return e
}

// Load reads every API sink at start, sealing plain records on the
// first start with a secrets key.
func (e *Endpoints) Load(ctx context.Context) error {
	if err := e.store.SealPlain(ctx); err != nil {
		return err
	}
	entries, err := e.store.All(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, en := range entries {
		e.putLocked(en.Name, apisinks.FromEntry(e.kinds, e.keyed(), en, e.file))
	}
	for name, a := range e.api {
		if a.Err != nil {
			e.reportUnstarted(name, a)
		}
	}
	return nil
}

// Effective is the config the host should run: the file's sinks, then
// the API sinks that may run.
func (e *Endpoints) Effective() *config.Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return apisinks.Effective(e.file, e.api)
}

// Start applies the other replicas' changes and ends rotated-out
// secrets' grace on time, until ctx ends or Stop. The host runs by then.
func (e *Endpoints) Start(ctx context.Context) error {
	if err := e.expiry.Start(ctx); err != nil {
		return err
	}
	e.changed()
	return e.watcher.Start(ctx)
}

// Stop ends what Start began and waits for a change being applied.
func (e *Endpoints) Stop() error {
	werr := e.watcher.Stop()
	if err := e.expiry.Stop(); err != nil {
		return err
	}
	return werr
}

// Has says whether an API sink called name is stored, running or not.
func (e *Endpoints) Has(name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, ok := e.api[name]
	return ok
}

// StoredIncarnation is the incarnation of the API sink called name as
// this replica stores it; "" when there is none.
func (e *Endpoints) StoredIncarnation(name string) string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if a := e.api[name]; a != nil {
		return a.Rec.Incarnation(name)
	}
	return ""
}

// SharedAPISink is the incarnation of the shared API sink stored under
// name, if there is one (running or not).
func (e *Endpoints) SharedAPISink(name string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if a := e.api[name]; a != nil && a.Err == nil && a.Config.Shared() {
		return a.Config.Incarnation, true
	}
	return "", false
}

// Reload makes next the config file's: the API sinks are judged again
// against it (a name the file now takes puts the API sink in conflict,
// one it gave up lets it run) and the result applied. prune also frees
// every name a removed file sink's kept consumer holds.
func (e *Endpoints) Reload(ctx context.Context, next *config.Config, prune bool) (config.Plan, error) {
	e.change.Lock()
	defer e.change.Unlock()
	if !e.host.Running() {
		return config.Plan{}, gatewayapi.ErrNotRunning
	}
	e.mu.RLock()
	api := apisinks.Rebuild(e.kinds, e.keyed(), e.api, next)
	e.mu.RUnlock()
	plan, err := e.host.Apply(ctx, apisinks.Effective(next, api), prune)
	if err != nil {
		return plan, err
	}
	e.mu.Lock()
	prev := e.api
	e.file, e.api = next, api
	e.recountLocked()
	e.mu.Unlock()
	e.reportRebuilt(prev, api)
	e.changed()
	if prune {
		// Also what earlier reloads kept: --prune frees every name a
		// removed file sink's consumer holds (CreateSink refuses it).
		e.pruneKept(ctx)
	}
	return plan, nil
}

func (e *Endpoints) keyed() bool { return e.store.Sealer != nil }

// fileConfig is the config file's config in force.
func (e *Endpoints) fileConfig() *config.Config {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.file
}

func (e *Endpoints) inFile(name string) bool {
	for _, s := range e.fileConfig().Sinks {
		if s.Name == name {
			return true
		}
	}
	return false
}
