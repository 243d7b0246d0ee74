package deadletter_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

const maxPayload = 16 << 10

type fixture struct {
	t     *testing.T
	b     *bus.Bus
	cfg   *config.Config
	store *deadletter.Store
	cons  jetstream.Consumer
}

// setup starts a real JetStream server (max_payload 16 KiB), ensures
// Switchyard's streams through pkg/bus, and a consumer "sink" reads the
// events stream as a dispatcher would.
func setup(t *testing.T) *fixture {
	t.Helper()
	js := testutil.StartJetStream(t, func(o *server.Options) { o.MaxPayload = maxPayload })
	b, cfg := testutil.OpenBus(t, js, func(cfg *config.Config) {
		cfg.Stream.MaxBytes.N = 8 << 20
		cfg.DeadLetters.MaxBytes.N = 8 << 20
	})
	cc := bus.ConsumerConfig(config.Sink{Name: "sink", Tenant: "*", Events: []string{">"}, Concurrency: 1, AckWait: config.Duration{D: time.Minute}}, 100)
	cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverAllPolicy, nil
	cons, err := b.JS.CreateConsumer(t.Context(), cfg.Stream.Name, cc)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, b: b, cfg: cfg, store: &deadletter.Store{JS: b.JS, Stream: cfg.DeadLetters.Stream}, cons: cons}
}

// deadLetter publishes one event, takes it from the consumer and stores it
// as a dead letter of "sink" with reason.
func (f *fixture) deadLetter(typ, id string, body []byte, reason string, status int) {
	f.t.Helper()
	f.deadLetterOn("events."+typ, id, body, reason, status)
}

// deadLetterOn is deadLetter on any event subject (a tenant's too), with
// the event read from the message as the dispatcher reads it.
func (f *fixture) deadLetterOn(subj, id string, body []byte, reason string, status int) {
	f.t.Helper()
	ctx := f.t.Context()
	m := &nats.Msg{Subject: subj, Data: body, Header: nats.Header{}}
	m.Header.Set(event.HeaderMsgID, id)
	m.Header.Set("ce-source", "tests")
	if _, err := f.b.JS.PublishMsg(ctx, m); err != nil {
		f.t.Fatal(err)
	}
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	for msg := range batch.Messages() {
		meta, err := msg.Metadata()
		if err != nil {
			f.t.Fatal(err)
		}
		ev, _ := event.FromMessage(event.Message{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data(),
			Stream: meta.Stream, Sequence: meta.Sequence.Stream, Published: meta.Timestamp}, "events.")
		if err := f.store.Put(ctx, deadletter.Input{Sink: "sink", Msg: msg, Meta: meta, Event: ev, Reason: reason, Status: status, Attempts: 3}); err != nil {
			f.t.Fatal(err)
		}
		_ = msg.Term()
		return
	}
	f.t.Fatalf("event %s never delivered", id)
}

func (f *fixture) count() uint64 {
	f.t.Helper()
	n, err := f.store.Count(f.t.Context(), "sink")
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// listIDs is the ids of sink's records that filter lists, in order,
// joined by commas.
func (f *fixture) listIDs(t *testing.T, filter deadletter.Filter) string {
	t.Helper()
	recs, err := f.store.List(t.Context(), "sink", filter)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return strings.Join(ids, ",")
}

func TestPutAndList(t *testing.T) {
	f := setup(t)
	f.deadLetter("order.created", "e1", []byte(`{"a":1}`), "permanent (status 410): gone", 410)
	f.deadLetter("order.paid", "e2", []byte{0xff, 0x00}, "retries exhausted", 503)
	recs, err := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	r := recs[0]
	if r.ID != "e1" || r.Type != "order.created" || r.Sink != "sink" || r.Status != 410 || r.Attempts != 3 ||
		r.Reason != "permanent (status 410): gone" || string(r.Data) != `{"a":1}` || r.Stream != f.cfg.Stream.Name || r.StreamSeq != 1 {
		t.Errorf("record %+v", r)
	}
	if r.Time.IsZero() || r.PublishedAt.IsZero() || r.BodyOmitted != 0 {
		t.Errorf("times %v / %v, omitted %d", r.Time, r.PublishedAt, r.BodyOmitted)
	}
	if b := recs[1]; b.DataEncoding != "base64" || !bytes.Equal(b.DataBase64, []byte{0xff, 0x00}) || b.Data != nil {
		t.Errorf("non-JSON body: %+v", b)
	}
	if n := f.count(); n != 2 {
		t.Errorf("Count %d, want 2", n)
	}
	if recs, _ := f.store.List(t.Context(), "other", deadletter.Filter{}); len(recs) != 0 {
		t.Errorf("another sink sees %d records", len(recs))
	}
}

// Put is idempotent for one delivery: a repeat after a crash (stored, not
// yet terminated) lands on the same message id.
func TestPutTwiceIsOneRecord(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	if _, err := f.b.JS.Publish(ctx, "events.order.created", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		meta, _ := msg.Metadata()
		for i := 0; i < 2; i++ {
			if err := f.store.Put(ctx, deadletter.Input{Sink: "sink", Msg: msg, Meta: meta, Reason: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		recs, err := f.store.List(ctx, "sink", deadletter.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].ID != event.DerivedID(meta.Stream, meta.Sequence.Stream) {
			t.Errorf("records %+v, want one with the derived id", recs)
		}
	}
}

func TestReasonIsCapped(t *testing.T) {
	f := setup(t)
	f.deadLetter("order.created", "long", []byte(`{}`), strings.Repeat("r", 5000), 500)
	recs, err := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Reason) != 1024 {
		t.Fatalf("reason of %d bytes, want 1024", len(recs[0].Reason))
	}
}

// A body near max_payload would not fit beside the dead letter's headers:
// it is kept by reference to the events stream, and a redrive reads it
// from there, byte for byte.
func TestBodyNearMaxPayloadKeptByReference(t *testing.T) {
	f := setup(t)
	body := bytes.Repeat([]byte("b"), maxPayload-300)
	f.deadLetter("order.created", "big", body, "too big for the receiver", 413)
	f.deadLetter("order.created", "small", []byte(`{}`), "x", 400)
	recs, err := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	big := recs[0]
	if big.BodyOmitted != len(body) || big.Data != nil || big.DataBase64 != nil || big.Stream != f.cfg.Stream.Name || big.StreamSeq != 1 {
		t.Fatalf("big record %+v", big)
	}
	if recs[1].BodyOmitted != 0 {
		t.Errorf("small body omitted")
	}
	n, err := f.store.Redrive(t.Context(), "sink", deadletter.Route{}, deadletter.Filter{})
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	got := redriven(t, f, 2)
	if !bytes.Equal(got["big"].Data, body) {
		t.Errorf("redriven big body: %d bytes, want %d", len(got["big"].Data), len(body))
	}
	if got["big"].Header.Get(deadletter.HeaderBodyOmitted) != "" || got["big"].Header.Get(deadletter.HeaderReason) != "" {
		t.Errorf("redrive carries bookkeeping headers: %v", got["big"].Header)
	}
}

// redriven reads n messages from the redrive stream, by event id.
func redriven(t *testing.T, f *fixture, n int) map[string]*jetstream.RawStreamMsg {
	t.Helper()
	s, err := f.b.JS.Stream(t.Context(), bus.RedriveStream)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jetstream.RawStreamMsg{}
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("redrive stream seq %d: %v", seq, err)
		}
		if m.Subject != bus.RedriveSubject("sink") {
			t.Errorf("redriven on %s", m.Subject)
		}
		out[m.Header.Get(event.HeaderEventID)] = m
	}
	return out
}

func TestRedriveRemovesAndKeepsIdentity(t *testing.T) {
	f := setup(t)
	f.deadLetter("order.created", "r1", []byte(`{"n":1}`), "a", 500)
	f.deadLetter("order.paid", "r2", []byte(`{"n":2}`), "b", 500)
	n, err := f.store.Redrive(t.Context(), "sink", deadletter.Route{}, deadletter.Filter{Type: "order.paid"})
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	m := redriven(t, f, 1)["r2"]
	if m == nil || string(m.Data) != `{"n":2}` || m.Header.Get(event.HeaderOrigSubject) != "events.order.paid" || m.Header.Get("ce-source") != "tests" {
		t.Fatalf("redriven %+v", m)
	}
	if c := f.count(); c != 1 {
		t.Errorf("%d dead letters left, want 1", c)
	}
}

func TestFilterListAndPurge(t *testing.T) {
	f := setup(t)
	f.deadLetter("order.created", "f1", []byte(`{}`), "status 410 gone", 410)
	f.deadLetter("order.paid", "f2", []byte(`{}`), "timeout", 0)
	f.deadLetter("invoice.sent", "f3", []byte(`{}`), "status 410 gone", 410)
	f.deadLetter("order.created", "f4", []byte(`{}`), "timeout", 0)
	all, err := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	mid := all[2].Time
	tests := []struct {
		name string
		f    deadletter.Filter
		want []string
	}{
		{"all", deadletter.Filter{}, []string{"f1", "f2", "f3", "f4"}},
		{"type exact", deadletter.Filter{Type: "order.created"}, []string{"f1", "f4"}},
		{"type wildcard", deadletter.Filter{Type: "order.*"}, []string{"f1", "f2", "f4"}},
		{"type full wildcard", deadletter.Filter{Type: ">"}, []string{"f1", "f2", "f3", "f4"}},
		{"reason substring", deadletter.Filter{Reason: "410"}, []string{"f1", "f3"}},
		{"since", deadletter.Filter{Since: mid}, []string{"f3", "f4"}},
		{"until", deadletter.Filter{Until: mid}, []string{"f1", "f2"}},
		{"offset", deadletter.Filter{Offset: 1}, []string{"f2", "f3", "f4"}},
		{"limit", deadletter.Filter{Limit: 2}, []string{"f1", "f2"}},
		{"offset and limit of a match", deadletter.Filter{Type: "order.*", Offset: 1, Limit: 1}, []string{"f2"}},
		{"nothing", deadletter.Filter{Type: "user.*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := f.listIDs(t, tt.f), strings.Join(tt.want, ","); got != want {
				t.Errorf("ids %q, want %q", got, want)
			}
		})
	}
	n, err := f.store.Purge(t.Context(), "sink", deadletter.Filter{Reason: "timeout", Limit: 1})
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v", n, err)
	}
	left, _ := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if len(left) != 3 || left[1].ID != "f3" {
		t.Errorf("after purge %v", left)
	}
	if n, err := f.store.Purge(t.Context(), "sink", deadletter.Filter{}); err != nil || n != 3 {
		t.Errorf("Purge all = %d, %v", n, err)
	}
	if c := f.count(); c != 0 {
		t.Errorf("Count %d after purge", c)
	}
}

func TestListStopsOnCanceledContext(t *testing.T) {
	f := setup(t)
	f.deadLetter("order.created", "c1", []byte(`{}`), "x", 500)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.store.List(ctx, "sink", deadletter.Filter{}); err == nil {
		t.Error("List on a canceled context succeeded")
	}
}

// A tenant's dead letter has the event's type, and its tenant apart: a
// filter by type finds it, and a filter by tenant tells tenants apart.
// A record stored before the tenant had a field of its own (its type read
// tenants.acme.order.created) is found the same way.
func TestTenantDeadLettersByTypeAndTenant(t *testing.T) {
	f := setup(t)
	f.deadLetterOn("tenants.acme.order.created", "a1", []byte(`{}`), "x", 500)
	f.deadLetterOn("events.order.created", "u1", []byte(`{}`), "x", 500)
	f.deadLetterOn("tenants.globex.order.created", "g1", []byte(`{}`), "x", 500)
	f.deadLetterOn("tenants.acme.order.paid", "a2", []byte(`{}`), "x", 500)
	// As the gateway stored a tenant's dead letter before: no type or
	// tenant of its own, only the original subject.
	old := &nats.Msg{Subject: bus.DeadLetterSubject("sink"), Data: []byte(`{}`), Header: nats.Header{}}
	for k, v := range map[string]string{event.HeaderEventID: "a0", event.HeaderOrigSubject: "tenants.acme.order.created",
		deadletter.HeaderSink: "sink", deadletter.HeaderReason: "x", deadletter.HeaderStatus: "500", deadletter.HeaderAttempts: "3",
		deadletter.HeaderFailedAt: time.Now().UTC().Format(time.RFC3339Nano)} {
		old.Header.Set(k, v)
	}
	if _, err := f.b.JS.PublishMsg(t.Context(), old); err != nil {
		t.Fatal(err)
	}

	all, err := f.store.List(t.Context(), "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		want := map[string][2]string{"a1": {"order.created", "acme"}, "u1": {"order.created", ""}, "g1": {"order.created", "globex"},
			"a2": {"order.paid", "acme"}, "a0": {"order.created", "acme"}}[r.ID]
		if r.Type != want[0] || r.Tenant != want[1] {
			t.Errorf("%s: type %q tenant %q, want %q %q", r.ID, r.Type, r.Tenant, want[0], want[1])
		}
	}
	for _, tt := range []struct {
		name string
		f    deadletter.Filter
		want string
	}{
		{"type", deadletter.Filter{Type: "order.created"}, "a1,u1,g1,a0"},
		{"type wildcard", deadletter.Filter{Type: "order.*"}, "a1,u1,g1,a2,a0"},
		{"type and tenant", deadletter.Filter{Type: "order.created", Tenant: "acme"}, "a1,a0"},
		{"tenant", deadletter.Filter{Tenant: "acme"}, "a1,a2,a0"},
		{"another tenant", deadletter.Filter{Tenant: "globex"}, "g1"},
		{"the prefixed type is no type", deadletter.Filter{Type: "tenants.acme.order.created"}, ""},
	} {
		if got := f.listIDs(t, tt.f); got != tt.want {
			t.Errorf("%s: ids %q, want %q", tt.name, got, tt.want)
		}
	}

	// A redrive by type and tenant takes that tenant's records of that
	// type, old and new, and keeps their tenant's subject.
	n, err := f.store.Redrive(t.Context(), "sink", deadletter.Route{}, deadletter.Filter{Type: "order.created", Tenant: "acme"})
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want 2", n, err)
	}
	for id, m := range redriven(t, f, 2) {
		if s := m.Header.Get(event.HeaderOrigSubject); s != "tenants.acme.order.created" {
			t.Errorf("%s redriven with subject %q", id, s)
		}
	}
	if n, err := f.store.Purge(t.Context(), "sink", deadletter.Filter{Tenant: "globex"}); err != nil || n != 1 {
		t.Errorf("Purge globex = %d, %v; want 1", n, err)
	}
	if c := f.count(); c != 2 {
		t.Errorf("%d dead letters left, want 2 (u1, a2)", c)
	}
}
