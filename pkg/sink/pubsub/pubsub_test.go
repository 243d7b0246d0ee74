package pubsub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/pubsub"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

const topic = "projects/proj/topics/events"

// faults is a pstest reactor: it fails publish requests that carry a
// marked event id, and counts the requests each id was in.
type faults struct {
	mu       sync.Mutex
	codes    map[string]codes.Code
	attempts map[string]int
}

func (f *faults) React(req any) (bool, any, error) {
	r, ok := req.(*pubsubpb.PublishRequest)
	if !ok {
		return false, nil, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var fail codes.Code
	for _, m := range r.Messages {
		id := m.Attributes["id"]
		f.attempts[id]++
		if c, ok := f.codes[id]; ok {
			fail = c
		}
	}
	if fail != codes.OK {
		return true, nil, status.Error(fail, "injected by the test")
	}
	return false, nil, nil
}

func newServer(t *testing.T) (*pstest.Server, *faults) {
	f := &faults{codes: map[string]codes.Code{}, attempts: map[string]int{}}
	srv := pstest.NewServer(pstest.ServerReactorOption{FuncName: "Publish", Reactor: f})
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	return srv, f
}

func newDriver(t *testing.T, endpoint string, mod func(*pubsub.Config)) *pubsub.Driver {
	t.Helper()
	cfg := pubsub.Config{Project: "proj", Topic: "events", Endpoint: endpoint, Timeout: config.Duration{D: 5 * time.Second}}
	if mod != nil {
		mod(&cfg)
	}
	d, err := pubsub.New(context.Background(), cfg, config.Batch{MaxWait: config.Duration{D: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

type harness struct {
	srv *pstest.Server
	f   *faults
}

func (h *harness) Open(t *testing.T) sink.Driver { return newDriver(t, h.srv.Addr, nil) }

func (h *harness) Received(t *testing.T) []sinktest.Received {
	var out []sinktest.Received
	for _, m := range h.srv.Messages() {
		ts, err := time.Parse(time.RFC3339Nano, m.Attributes["time"])
		if err != nil {
			t.Errorf("time attribute %q: %v", m.Attributes["time"], err)
		}
		out = append(out, sinktest.Received{ID: m.Attributes["id"], Type: m.Attributes["type"], Time: ts, Data: m.Data})
	}
	return out
}

func (h *harness) Fail(id string, f sinktest.Fault) bool {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	switch f {
	case sinktest.FaultRetryable:
		h.f.codes[id] = codes.Unavailable
	case sinktest.FaultPermanent:
		h.f.codes[id] = codes.PermissionDenied
	default:
		return false // Pub/Sub never says when to come back
	}
	return true
}

func (h *harness) Attempts(id string) int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.f.attempts[id]
}

func TestConformance(t *testing.T) {
	srv, f := newServer(t)
	// Partial failure is per publish request, and the client bundles a
	// batch into one request: a batch fails or succeeds together.
	sinktest.Run(t, &harness{srv: srv, f: f}, sinktest.Capabilities{MaxBatch: pubsub.MaxBatch})
}

func TestAttributes(t *testing.T) {
	srv, _ := newServer(t)
	d := newDriver(t, srv.Addr, nil)
	e := &event.Event{ID: "a1", Type: "order.completed", Source: "shop", Subject: "o-9", ContentType: "application/json",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Data: []byte(`{"x":1}`)}
	if err := d.Send(context.Background(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	m := srv.Messages()[0]
	want := map[string]string{"id": "a1", "type": "order.completed", "source": "shop", "subject": "o-9", "content-type": "application/json",
		"traceparent": e.TraceParent, "time": "2026-01-02T03:04:05.000000006Z"}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
		}
	}
	if string(m.Data) != `{"x":1}` {
		t.Errorf("data %q", m.Data)
	}
}

// Ordering keys keep order per key; after a failed ordered publish the key
// is resumed, so its redelivery can publish.
func TestOrderingKeysAndResume(t *testing.T) {
	srv, f := newServer(t)
	d := newDriver(t, srv.Addr, func(c *pubsub.Config) { c.OrderingKey = "{{.Subject}}" })
	var batch []*event.Event
	for i := 0; i < 40; i++ {
		batch = append(batch, &event.Event{ID: fmt.Sprintf("o%d", i), Type: "t", Subject: []string{"A", "B"}[i%2], Time: time.Now(), Data: []byte(fmt.Sprint(i))})
	}
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	for _, m := range srv.Messages() {
		var n int
		fmt.Sscan(string(m.Data), &n)
		if prev, ok := last[m.OrderingKey]; ok && n < prev {
			t.Errorf("key %s: %d after %d", m.OrderingKey, n, prev)
		}
		last[m.OrderingKey] = n
	}
	if len(srv.Messages()) != 40 {
		t.Fatalf("%d messages", len(srv.Messages()))
	}

	f.mu.Lock()
	f.codes["bad"] = codes.Unavailable
	f.mu.Unlock()
	bad := &event.Event{ID: "bad", Type: "t", Subject: "A", Time: time.Now(), Data: []byte("x")}
	if err := d.Send(context.Background(), []*event.Event{bad}); sink.Classify(err).Class != sink.Retryable {
		t.Fatalf("injected failure: %v", err)
	}
	f.mu.Lock()
	delete(f.codes, "bad")
	f.mu.Unlock()
	if err := d.Send(context.Background(), []*event.Event{bad}); err != nil {
		t.Fatalf("key A after the failure: %v (not resumed?)", err)
	}
}

// A message Pub/Sub would refuse is refused alone, before publishing: a
// request-level INVALID_ARGUMENT would fail its bundle mates too.
func TestOversizedAttributeFailsAlone(t *testing.T) {
	srv, _ := newServer(t)
	d := newDriver(t, srv.Addr, nil)
	long := make([]byte, 2000)
	for i := range long {
		long[i] = 's'
	}
	batch := []*event.Event{
		{ID: "ok1", Type: "t", Time: time.Now(), Data: []byte("a")},
		{ID: "bad", Type: "t", Subject: string(long), Time: time.Now(), Data: []byte("b")},
		{ID: "ok2", Type: "t", Time: time.Now(), Data: []byte("c")},
	}
	err := d.Send(context.Background(), batch)
	for i := range batch {
		if (sink.ErrorFor(err, i) != nil) != (i == 1) {
			t.Errorf("index %d: %v", i, sink.ErrorFor(err, i))
		}
	}
	if c := sink.Classify(sink.ErrorFor(err, 1)); c.Class != sink.Permanent {
		t.Errorf("oversized attribute: %v", c)
	}
	if len(srv.Messages()) != 2 {
		t.Errorf("%d messages published, want 2", len(srv.Messages()))
	}
}
