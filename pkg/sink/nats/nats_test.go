package nats_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	natssink "github.com/switchyard-dev/switchyard/pkg/sink/nats"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// embedded starts a JetStream server with a BRIDGE stream on bridge.>.
func embedded(t *testing.T) (*server.Server, *nc.Conn, jetstream.JetStream) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(ns.Shutdown)
	conn, err := nc.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "BRIDGE", Subjects: []string{"bridge.>"}}); err != nil {
		t.Fatal(err)
	}
	return ns, conn, js
}

// harness records every message published on bridge.> (a core
// subscription: the stream itself stores a retried event once, which
// TestRetryStoredOnce checks, while the suite wants to see both sends with
// the same id). It cannot make the stream refuse one event, so the fault
// checks skip.
type harness struct {
	conn *nc.Conn
	url  string // set: each driver connects on its own
	sub  *nc.Subscription
	mu   sync.Mutex
	got  []sinktest.Received
}

func newHarness(t *testing.T, conn *nc.Conn, url string) *harness {
	h := &harness{conn: conn, url: url}
	sub, err := conn.Subscribe("bridge.>", func(m *nc.Msg) {
		ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(event.HeaderTime))
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got = append(h.got, sinktest.Received{ID: m.Header.Get(event.HeaderMsgID), Type: strings.TrimPrefix(m.Subject, "bridge."), Time: ts, Data: m.Data})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	// Subscribe only buffers the SUB; a driver on a connection of its own
	// could publish before the server has it, and the stream would store an
	// event this subscription never sees. Flush is a PING the server answers
	// after the SUB: from then on every publish, from any connection, is
	// delivered here.
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	h.sub = sub
	return h
}

func (h *harness) Open(t *testing.T) sink.Driver {
	cfg := natssink.Config{URL: h.url, Subject: "bridge.>", Stream: "BRIDGE", Timeout: config.Duration{D: 5 * time.Second}}
	d, err := natssink.New(context.Background(), cfg, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *harness) Received(t *testing.T) []sinktest.Received {
	// A slow consumer drops messages: a miss must say so, not look lost.
	if n, err := h.sub.Dropped(); err == nil && n > 0 {
		t.Fatalf("the harness's subscription dropped %d messages (slow consumer)", n)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sinktest.Received(nil), h.got...)
}

// stored is what the BRIDGE stream holds.
func stored(t *testing.T, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	ctx := context.Background()
	s, err := js.Stream(ctx, "BRIDGE")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func (h *harness) Fail(string, sinktest.Fault) bool { return false }
func (h *harness) Attempts(string) int              { return -1 }

func TestConformanceSharedConnection(t *testing.T) {
	_, conn, _ := embedded(t)
	sinktest.Run(t, newHarness(t, conn, ""), sinktest.Capabilities{MaxBatch: natssink.MaxBatch})
}

// Another server or account: the driver opens a connection of its own.
func TestConformanceOwnConnection(t *testing.T) {
	ns, conn, _ := embedded(t)
	sinktest.Run(t, newHarness(t, conn, ns.ClientURL()), sinktest.Capabilities{MaxBatch: natssink.MaxBatch})
}

// A retried event is stored once: the event id is the Nats-Msg-Id.
func TestRetryStoredOnce(t *testing.T) {
	_, conn, js := embedded(t)
	d := newHarness(t, conn, "").Open(t)
	defer d.Close(context.Background())
	e := &event.Event{ID: "evt_1", Type: "order.created", Time: time.Now().UTC(), Data: []byte(`{}`)}
	for range 3 {
		if err := d.Send(context.Background(), []*event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(t, js); len(got) != 1 || got[0].Subject != "bridge.order.created" || got[0].Header.Get("Nats-Msg-Id") != "evt_1" {
		t.Fatalf("stored %d messages: %+v", len(got), got)
	}
}

// Two tenants' events of one id are both stored (the target de-duplicates
// per tenant), and a reader sees the producer's id again.
func TestTenantsDoNotDeduplicateEachOther(t *testing.T) {
	_, conn, js := embedded(t)
	d := newHarness(t, conn, "").Open(t)
	defer d.Close(context.Background())
	for _, tenant := range []string{"acme", "globex", "acme"} {
		e := &event.Event{ID: "1", Type: "order.created", Tenant: tenant, Time: time.Now().UTC(), Data: []byte(`{}`)}
		if err := d.Send(context.Background(), []*event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	got := stored(t, js)
	if len(got) != 2 {
		t.Fatalf("stored %d messages, want one per tenant", len(got))
	}
	for _, m := range got {
		ev, err := event.FromMessage(event.Message{Subject: "events.x", Header: m.Header, Stream: "BRIDGE", Sequence: m.Sequence}, "events.")
		if err != nil || ev.ID != "1" {
			t.Fatalf("read back id %q (%v) from %v", ev.ID, err, m.Header)
		}
	}
}

// No stream stores the subject: retryable, so the events wait for it; a
// publish that another stream than the configured one stores: permanent.
func TestErrors(t *testing.T) {
	_, conn, _ := embedded(t)
	ctx := context.Background()
	for _, tt := range []struct {
		cfg  natssink.Config
		want sink.Class
	}{
		{natssink.Config{Subject: "nowhere.>"}, sink.Retryable},
		{natssink.Config{Subject: "bridge.>", Stream: "OTHER"}, sink.Permanent},
	} {
		d, err := natssink.New(ctx, tt.cfg, conn)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Send(ctx, []*event.Event{{ID: "x", Type: "t", Data: []byte("x")}})
		if c := sink.Classify(err); err == nil || c.Class != tt.want {
			t.Errorf("%+v: Send = %v (%v), want %v", tt.cfg, err, c.Class, tt.want)
		}
		d.Close(ctx)
	}
	if _, err := natssink.New(ctx, natssink.Config{Subject: "x"}, nil); err == nil {
		t.Error("no url and no shared connection: want an error")
	}
}

// validate refuses a subject that Switchyard's own streams capture on the
// same NATS (its deliveries would come back to it), and bad subjects.
func TestValidate(t *testing.T) {
	sinkYAML := func(block string) string {
		return "sinks:\n  - name: bridge\n    events: [\">\"]\n    nats: " + block + "\n"
	}
	tests := []struct {
		name, src, want string // want "" means valid
	}{
		{"a subject of its own", sinkYAML("{subject: \"bridge.>\"}"), ""},
		{"a fixed subject", sinkYAML("{subject: bridge.all, stream: BRIDGE, timeout: 3s}"), ""},
		{"back into the events stream", sinkYAML("{subject: \"events.>\"}"), "l.yaml:4: sinks[0].nats.subject: \"events.>\" overlaps \"events.>\""},
		{"one type back into the events stream", sinkYAML("{subject: events.order.created}"), "a loop"},
		{"a custom events subject", "stream: {subjects: [\"events.in.>\"]}\n" + sinkYAML("{subject: \"events.in.bridged.>\"}"), "overlaps \"events.in.>\""},
		{"into the dead letters", sinkYAML("{subject: dlq.bridge}"), "overlaps \"dlq.>\""},
		{"into the redrive stream", sinkYAML("{subject: \"switchyard.>\"}"), "overlaps \"switchyard.redrive.>\""},
		{"another server may use events.>", sinkYAML("{url: \"nats://other.example:4222\", subject: \"events.>\"}"), ""},
		{"missing subject", sinkYAML("{stream: X}"), "sinks[0].nats.subject: missing"},
		{"wildcard subject", sinkYAML("{subject: \"bridge.*\"}"), "without wildcards"},
		{"> not last", sinkYAML("{subject: \"bridge.>.x\"}"), "without wildcards"},
		{"bad url", sinkYAML("{url: other:4222, subject: x}"), "sinks[0].nats.url"},
		{"missing creds", sinkYAML("{url: \"nats://x:4222\", creds_file: /nonexistent.creds, subject: x}"), "sinks[0].nats.creds_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("l.yaml", []byte(tt.src), func(string) (string, bool) { return "", false })
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got:\n%v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
		})
	}
}

// The url's password is a secret: /v1/config shows a fingerprint.
func TestRedacted(t *testing.T) {
	cfg, err := config.Parse("r.yaml", []byte("sinks:\n  - name: b\n    events: [\">\"]\n    nats: {url: \"nats://u:SECRETPW@other:4222\", subject: x}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := config.Redacted(cfg)
	if u := config.Settings[natssink.Config](&r.Sinks[0]).URL; strings.Contains(u, "SECRETPW") || !strings.HasPrefix(u, "nats://u:sha256") {
		t.Errorf("redacted url %q", u)
	}
	if config.Settings[natssink.Config](&cfg.Sinks[0]).URL != "nats://u:SECRETPW@other:4222" {
		t.Error("Redacted changed the original")
	}
}
