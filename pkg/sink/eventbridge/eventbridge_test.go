package eventbridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/eventbridge"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

func staticAWS(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func newDriver(t *testing.T, endpoint string, mod func(*eventbridge.Config)) *eventbridge.Driver {
	t.Helper()
	cfg := eventbridge.Config{Bus: "default", Region: "us-east-1", Source: "com.example.switchyard",
		Endpoint: endpoint, Timeout: config.Duration{D: 5 * time.Second}}
	if mod != nil {
		mod(&cfg)
	}
	d, err := eventbridge.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func newFake(t *testing.T) *fakeeb.Server {
	f := fakeeb.New()
	t.Cleanup(f.Close)
	return f
}

type harness struct {
	f *fakeeb.Server
}

func (h *harness) Open(t *testing.T) sink.Driver { return newDriver(t, h.f.URL, nil) }

func (h *harness) Received(*testing.T) []sinktest.Received {
	var out []sinktest.Received
	for _, r := range h.f.Received() {
		out = append(out, sinktest.Received{ID: r.ID, Type: r.DetailType, Time: r.Time, Data: r.Data})
	}
	return out
}

func (h *harness) Attempts(id string) int {
	h.f.Mu.Lock()
	defer h.f.Mu.Unlock()
	return h.f.Attempts[id]
}

func (h *harness) Fail(id string, fault sinktest.Fault) bool {
	h.f.Mu.Lock()
	defer h.f.Mu.Unlock()
	switch fault {
	case sinktest.FaultRetryable:
		h.f.Faults[id] = "InternalFailure"
	case sinktest.FaultPermanent:
		h.f.Faults[id] = "MalformedDetail"
	default:
		return false // EventBridge never says when to come back
	}
	return true
}

func TestConformance(t *testing.T) {
	staticAWS(t)
	sinktest.Run(t, &harness{f: newFake(t)}, sinktest.Capabilities{MaxBatch: eventbridge.MaxEntries, PartialFailure: true})
}

func TestEntryShapeAndCallSplitting(t *testing.T) {
	staticAWS(t)
	f := newFake(t)
	d := newDriver(t, f.URL, func(c *eventbridge.Config) {
		c.DetailType = "shop/{{.Type}}"
		c.Resources = []string{"arn:aws:s3:::bucket"}
	})
	var batch []*event.Event
	for i := 0; i < 23; i++ {
		batch = append(batch, &event.Event{ID: "e" + string(rune('a'+i)), Type: "order.completed", Source: "shop", Subject: "o-1",
			Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Data: []byte(`{"n":1}`),
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	}
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Calls) != 3 || len(f.Calls[0]) != 10 || len(f.Calls[2]) != 3 {
		t.Errorf("calls %v, want 10+10+3 entries", f.Calls)
	}
	e := f.Entries[0]
	var detail map[string]any
	_ = json.Unmarshal([]byte(e.Detail), &detail)
	if e.Source != "com.example.switchyard" || e.DetailType != "shop/order.completed" || e.EventBusName != "default" ||
		e.Time != float64(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Unix()) || len(e.Resources) != 1 ||
		!strings.HasPrefix(e.TraceHeader, "00-4bf9") || detail["id"] != "ea" || detail["subject"] != "o-1" || detail["source"] != "shop" {
		t.Errorf("entry %+v detail %v", e, detail)
	}
}

func TestSizeLimits(t *testing.T) {
	staticAWS(t)
	f := newFake(t)
	d := newDriver(t, f.URL, nil)
	big := func(id string, n int) *event.Event {
		return &event.Event{ID: id, Type: "t", Time: time.Now(), Data: []byte(`"` + strings.Repeat("x", n) + `"`)}
	}
	// Two entries of 150 KB fit 10 to a call by count but not by size:
	// they go in two calls. One of 300 KB can never be put: dead-letter it.
	err := d.Send(context.Background(), []*event.Event{big("a", 150<<10), big("b", 150<<10), big("huge", 300<<10)})
	if sink.ErrorFor(err, 0) != nil || sink.ErrorFor(err, 1) != nil {
		t.Fatalf("fitting entries failed: %v", err)
	}
	if c := sink.Classify(sink.ErrorFor(err, 2)); c.Class != sink.Permanent || !strings.Contains(c.Error(), "at most 262144") {
		t.Errorf("oversized entry: %v", sink.ErrorFor(err, 2))
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Calls) != 2 {
		t.Errorf("calls %v, want 2", f.Calls)
	}
}

func TestWholeCallErrors(t *testing.T) {
	staticAWS(t)
	d := newDriver(t, "http://127.0.0.1:1", func(c *eventbridge.Config) { c.Timeout.D = time.Second })
	err := d.Send(context.Background(), []*event.Event{{ID: "x", Type: "t", Time: time.Now(), Data: []byte(`{}`)}})
	if c := sink.Classify(err); c.Class != sink.Retryable {
		t.Errorf("connection refused: %v, want retryable", err)
	}
}

// The standard AWS endpoint variable alone points the driver at an
// emulator; the sink needs no endpoint of its own.
func TestAWSEndpointURLFromEnvironment(t *testing.T) {
	staticAWS(t)
	f := newFake(t)
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", f.URL)
	d := newDriver(t, "", nil)
	e := &event.Event{ID: "env1", Type: "t", Time: time.Now(), Data: []byte(`{}`)}
	if err := d.Send(context.Background(), []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	if got := f.Received(); len(got) != 1 || got[0].ID != "env1" {
		t.Errorf("received %+v", got)
	}
}

// The driver's own call timeout is the destination being slow: retryable,
// so it runs the schedule and counts toward dead-lettering. Only the
// caller's cancellation is Canceled.
func TestCallTimeoutIsRetryable(t *testing.T) {
	staticAWS(t)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}))
	defer slow.Close()
	d := newDriver(t, slow.URL, func(c *eventbridge.Config) { c.Timeout.D = 200 * time.Millisecond })
	err := d.Send(context.Background(), []*event.Event{{ID: "t1", Type: "t", Time: time.Now(), Data: []byte(`{}`)}})
	if c := sink.Classify(err); c.Class != sink.Retryable {
		t.Errorf("call timeout: %v (class %v), want retryable", err, c.Class)
	}
}

// A response whose Entries array is shorter than the request says nothing
// about the missing entries: they are retried, never taken as delivered.
func TestShortEntriesArrayIsRetried(t *testing.T) {
	staticAWS(t)
	f := newFake(t)
	f.ShortEntries = 2
	d := newDriver(t, f.URL, nil)
	var batch []*event.Event
	for i := 0; i < 5; i++ {
		batch = append(batch, &event.Event{ID: "s" + string(rune('a'+i)), Type: "t", Time: time.Now(), Data: []byte(`{}`)})
	}
	err := d.Send(context.Background(), batch)
	for i := range batch {
		got := sink.ErrorFor(err, i)
		if i < 2 {
			if got != nil {
				t.Errorf("entry %d was answered with success, got %v", i, got)
			}
			continue
		}
		if c := sink.Classify(got); got == nil || c.Class != sink.Retryable {
			t.Errorf("entry %d missing from the response: %v, want a retryable failure", i, got)
		}
	}
}
