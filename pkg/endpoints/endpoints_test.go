package endpoints_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/endpoints"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// host runs what it is told to: the sinks of the last config applied.
type host struct {
	mu      sync.Mutex
	applies int      // whole configs applied
	applied []string // the sinks applied one by one
	// gates hold ApplySink of a name: entered is closed when it is held,
	// and it goes on once release is closed. Set before any change.
	gates   map[string]gate
	running []config.Sink
	forgot  []string
	sent    []*event.Event
}

func (h *host) Running() bool { return true }

func (h *host) Apply(_ context.Context, next *config.Config, _ bool) (config.Plan, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applies++
	h.running = append([]config.Sink(nil), next.Sinks...)
	return config.Plan{}, nil
}

type gate struct{ entered, release chan struct{} }

func (h *host) ApplySink(_ context.Context, name string, next *config.Sink) error {
	if g, ok := h.gates[name]; ok {
		close(g.entered)
		<-g.release
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, name)
	i := slices.IndexFunc(h.running, func(s config.Sink) bool { return s.Name == name })
	switch {
	case next == nil && i >= 0:
		h.running = slices.Delete(h.running, i, i+1)
	case next != nil && i >= 0:
		h.running[i] = *next
	case next != nil:
		h.running = append(h.running, *next)
	}
	return nil
}

func (h *host) Sinks() []config.Sink {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]config.Sink(nil), h.running...)
}

func (h *host) Sink(name string) (config.Sink, bool) {
	for _, s := range h.Sinks() {
		if s.Name == name {
			return s, true
		}
	}
	return config.Sink{}, false
}

func (h *host) Status(_ context.Context, name, disabledBy string) (gatewayapi.SinkStatus, bool) {
	s, ok := h.Sink(name)
	return gatewayapi.SinkStatus{Name: s.Name, Kind: s.Kind(), Events: s.Events, Tenant: s.Tenant, Source: gatewayapi.SourceConfig,
		State: "running", StateReason: disabledBy}, ok
}

func (h *host) Send(_ context.Context, _ string, batch []*event.Event, observe sink.Observer) error {
	h.mu.Lock()
	h.sent = append(h.sent, batch...)
	h.mu.Unlock()
	observe(0, 204, []byte("thanks"))
	return nil
}

func (h *host) Forget(_ context.Context, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forgot = append(h.forgot, name)
}

func (h *host) DropConsumers(context.Context, []string) {}

// fileWith is the default config with webhook sinks of these names.
func fileWith(t *testing.T, names ...string) *config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.API.Allow = []string{"private_networks"}
	for _, n := range names {
		s, err := config.Loader{Kinds: sink.Default}.ParseSink([]byte(`{"name":"`+n+`","events":[">"],"webhook":{"url":"https://example.com/`+n+`","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Sinks = append(cfg.Sinks, s)
	}
	return cfg
}

// The endpoints decide what runs and the host runs it: a create runs the
// sink under its own incarnation after the name's leftovers are
// forgotten, and shows its generated secret once; the views tell API
// sinks from the file's; a reload whose file takes an API sink's name
// runs the file's sink and keeps the API's, shown as waiting; a test
// send goes through the host's driver.
func TestEndpointsDecideWhatTheHostRuns(t *testing.T) {
	ctx := t.Context()
	js := testutil.StartJetStream(t, nil)
	b, busCfg := testutil.OpenBus(t, js, nil)
	kv, err := b.SinksKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &host{}
	e := endpoints.New(endpoints.Config{Host: h, Store: &apisinks.Store{KV: kv, State: state, Log: log}, Kinds: sink.Default,
		File: fileWith(t, "f"), JS: b.JS, Stream: busCfg.Stream.Name, Metrics: telemetry.NewMetrics(), Log: log})
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// The host runs what the endpoints composed at start, as the gateway does.
	if _, err := h.Apply(ctx, e.Effective(), false); err != nil {
		t.Fatal(err)
	}
	if got := e.Effective().Sinks; len(got) != 1 || got[0].Incarnation != apisinks.FileIncarnation("f") {
		t.Fatalf("effective sinks at start: %+v", got)
	}

	v, err := e.CreateSink(ctx, []byte(`{"name":"a","events":["order.*"],"webhook":{"url":"https://example.com/a"}}`), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.Secret, "whsec_") || v.Source != gatewayapi.SourceAPI || v.CreatedAt == nil || !slices.Contains(v.Capabilities, sink.CapRotateSecret) {
		t.Fatalf("created view: %+v", v)
	}
	a, ok := h.Sink("a")
	if !ok || !strings.HasPrefix(a.Incarnation, "api-") || !slices.Equal(h.forgot, []string{"a"}) {
		t.Fatalf("host runs a=%+v (%v), forgot %v", a, ok, h.forgot)
	}
	if again, err := e.GetSink(ctx, "a"); err != nil || again.Secret != "" {
		t.Fatalf("the secret shows again: %+v %v", again, err)
	}
	var sources []string
	for _, st := range e.Statuses(ctx) {
		sources = append(sources, st.Name+":"+st.Source)
	}
	if want := []string{"a:api", "f:config"}; !slices.Equal(sources, want) {
		t.Fatalf("statuses %v, want %v", sources, want)
	}
	if _, err := e.CreateSink(ctx, []byte(`{"name":"f","events":[">"],"webhook":{"url":"https://example.com/f","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`), "ann"); !errors.Is(err, gatewayapi.ErrConflict) {
		t.Fatalf("create over a file sink's name: %v", err)
	}

	if _, err := e.Reload(ctx, fileWith(t, "f", "a"), false); err != nil {
		t.Fatal(err)
	}
	if a, _ := h.Sink("a"); a.Incarnation != apisinks.FileIncarnation("a") {
		t.Fatalf("after the file took the name, a runs as %q", a.Incarnation)
	}
	if v, err := e.GetSink(ctx, "a"); err != nil || v.Source != gatewayapi.SourceConfig || len(v.Warnings) != 1 {
		t.Fatalf("view of the file's a over the API's: %+v %v", v, err)
	}
	if !e.Has("a") {
		t.Fatal("the API sink in conflict is no longer stored")
	}

	res, err := e.TestSink(ctx, "f", gatewayapi.TestRequest{})
	if err != nil || !res.OK || res.Status != 204 || res.Response != "thanks" || len(h.sent) != 1 || h.sent[0].Type != endpoints.DefaultTestType {
		t.Fatalf("test send: %+v %v (sent %d)", res, err, len(h.sent))
	}
}

// One API sink's create, change, rotation, disabling and delete each
// apply that one sink through the host, never the whole config: a change
// of one sink costs the same whatever the number of sinks. The others
// keep running as they were.
func TestOneSinkChangeAppliesThatSinkAlone(t *testing.T) {
	ctx := t.Context()
	js := testutil.StartJetStream(t, nil)
	b, busCfg := testutil.OpenBus(t, js, nil)
	kv, err := b.SinksKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &host{}
	e := endpoints.New(endpoints.Config{Host: h, Store: &apisinks.Store{KV: kv, State: state, Log: log}, Kinds: sink.Default,
		File: fileWith(t, "f"), JS: b.JS, Stream: busCfg.Stream.Name, Metrics: telemetry.NewMetrics(), Log: log})
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Apply(ctx, e.Effective(), false); err != nil {
		t.Fatal(err)
	}
	h.applies = 0
	for _, n := range []string{"a", "b"} {
		if _, err := e.CreateSink(ctx, []byte(`{"name":"`+n+`","events":["order.*"],"webhook":{"url":"https://example.com/`+n+`"}}`), "ann"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.PatchSink(ctx, "a", []byte(`{"events":["order.created"]}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RotateSecret(ctx, "a", time.Hour, "ann"); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.Disable(ctx, "b", "failing"); !ok || err != nil {
		t.Fatalf("disable: %v %v", ok, err)
	}
	if err := e.DeleteSink(ctx, "b", "ann"); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	applies, applied := h.applies, append([]string(nil), h.applied...)
	h.mu.Unlock()
	if want := []string{"a", "b", "a", "a", "b", "b"}; applies != 0 || !slices.Equal(applied, want) {
		t.Fatalf("whole configs applied: %d (want 0); sinks applied one by one: %v, want %v", applies, applied, want)
	}
	var names []string
	for _, s := range h.Sinks() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"f", "a"}) {
		t.Fatalf("host runs %v, want [f a]", names)
	}
	if a, _ := h.Sink("a"); !slices.Equal(a.Events, []string{"order.created"}) {
		t.Fatalf("a runs with events %v", a.Events)
	}
}

// Changes of different sinks do not wait for one another's (a create's
// requests to the bucket and the name's leftovers, its start): a create
// held in the host does not hold up the create of another sink.
func TestChangesOfDifferentSinksOverlap(t *testing.T) {
	ctx := t.Context()
	js := testutil.StartJetStream(t, nil)
	b, busCfg := testutil.OpenBus(t, js, nil)
	kv, err := b.SinksKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	slow := gate{entered: make(chan struct{}), release: make(chan struct{})}
	h := &host{gates: map[string]gate{"slow": slow}}
	e := endpoints.New(endpoints.Config{Host: h, Store: &apisinks.Store{KV: kv, State: state, Log: log}, Kinds: sink.Default,
		File: fileWith(t), JS: b.JS, Stream: busCfg.Stream.Name, Metrics: telemetry.NewMetrics(), Log: log})
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	create := func(name string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := e.CreateSink(ctx, []byte(`{"name":"`+name+`","events":[">"],"webhook":{"url":"https://example.com/`+name+`"}}`), "ann")
			done <- err
		}()
		return done
	}
	slowDone := create("slow")
	<-slow.entered
	select {
	case err := <-create("fast"):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(slow.release)
		t.Fatal("the create of another sink waited for the one held in the host")
	}
	close(slow.release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Sink("slow"); !ok {
		t.Fatal("slow does not run")
	}
}
