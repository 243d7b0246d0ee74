// Package sinktest is the conformance suite every sink driver passes. A
// driver's test supplies a Harness: the driver, pointed at a real or
// protocol-faithful destination, and a way to read back what arrived.
package sinktest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// Fault is a failure a destination can be told to answer with.
type Fault int

const (
	FaultRetryable   Fault = iota // e.g. 500, UNAVAILABLE, InternalFailure
	FaultRateLimited              // 429/503 with Retry-After
	FaultPermanent                // e.g. 410, INVALID_ARGUMENT, MalformedDetail
)

// Received is one event as the destination holds it, decoded back.
type Received struct {
	ID   string
	Type string
	Time time.Time
	Data []byte
}

// Harness connects the suite to one driver.
type Harness interface {
	// Open returns a new driver pointed at the harness's destination.
	Open(t *testing.T) sink.Driver
	// Received returns every event the destination accepted so far.
	Received(t *testing.T) []Received
	// Fail makes every attempt to deliver the event with this id fail with
	// f. It returns false when the destination cannot answer that way.
	Fail(id string, f Fault) bool
	// Attempts is how many attempts the destination saw for id, or -1 when
	// it cannot tell.
	Attempts(id string) int
}

// Capabilities say which optional checks apply to a driver.
type Capabilities struct {
	// MaxBatch is the driver's largest batch in one call.
	MaxBatch int
	// PartialFailure is true when one event of a batch can fail alone.
	PartialFailure bool
}

var seq struct {
	sync.Mutex
	n int
}

func newEvent(prefix string, data []byte) *event.Event {
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	return &event.Event{
		ID: fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, n), Type: "order.completed",
		Source: "sinktest", Subject: "order-1", ContentType: "application/json",
		Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Data: data,
	}
}

// waitReceived polls until every id has arrived or the deadline passes.
func waitReceived(t *testing.T, h Harness, ids ...string) map[string]Received {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]Received{}
		for _, r := range h.Received(t) {
			got[r.ID] = r
		}
		missing := 0
		for _, id := range ids {
			if _, ok := got[id]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never arrived", missing, len(ids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func send(t *testing.T, d sink.Driver, events ...*event.Event) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return d.Send(ctx, events)
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness, caps Capabilities) {
	t.Run("BodyArrivesByteExact", func(t *testing.T) { testBody(t, h) })
	t.Run("MetadataWhereDocumented", func(t *testing.T) { testMetadata(t, h) })
	t.Run("BatchOfMaxAndMaxPlusOne", func(t *testing.T) { testBatches(t, h, caps) })
	t.Run("FaultTable", func(t *testing.T) { testFaults(t, h) })
	t.Run("PartialFailureNamesFailedIndexes", func(t *testing.T) {
		if !caps.PartialFailure {
			t.Skip("the destination accepts or refuses a batch whole")
		}
		testPartial(t, h)
	})
	t.Run("IDStableAcrossSends", func(t *testing.T) { testIDStable(t, h) })
	t.Run("CancelReturnsPromptly", func(t *testing.T) { testCancel(t, h) })
	t.Run("CloseIsIdempotentAndSafeDuringSends", func(t *testing.T) { testClose(t, h) })
}

func testBody(t *testing.T, h Harness) {
	d := h.Open(t)
	defer d.Close(context.Background())
	bodies := [][]byte{
		[]byte(`{"order_id": 7, "note": "<b>&amp;</b>", "nested": {"a": [1, 2.50, null]}}`),
		{0xff, 0xfe, 0x00, 0x80, 'x'}, // not UTF-8
		[]byte("plain text, not JSON\n"),
	}
	var ids []string
	var events []*event.Event
	for _, b := range bodies {
		e := newEvent("body", b)
		events = append(events, e)
		ids = append(ids, e.ID)
	}
	for _, e := range events {
		if err := send(t, d, e); err != nil {
			t.Fatalf("send %q: %v", e.Data, err)
		}
	}
	got := waitReceived(t, h, ids...)
	for _, e := range events {
		if !bytes.Equal(got[e.ID].Data, e.Data) {
			t.Errorf("data of %s\n got %q\nwant %q", e.ID, got[e.ID].Data, e.Data)
		}
	}
}

func testMetadata(t *testing.T, h Harness) {
	d := h.Open(t)
	defer d.Close(context.Background())
	e := newEvent("meta", []byte(`{}`))
	if err := send(t, d, e); err != nil {
		t.Fatal(err)
	}
	r := waitReceived(t, h, e.ID)[e.ID]
	if r.Type != e.Type {
		t.Errorf("type %q, want %q", r.Type, e.Type)
	}
	if !r.Time.Equal(e.Time) {
		t.Errorf("time %s, want %s", r.Time, e.Time)
	}
}

func testBatches(t *testing.T, h Harness, caps Capabilities) {
	d := h.Open(t)
	defer d.Close(context.Background())
	for _, n := range []int{caps.MaxBatch, caps.MaxBatch + 1} {
		var events []*event.Event
		var ids []string
		for i := 0; i < n; i++ {
			e := newEvent(fmt.Sprintf("batch%d", n), []byte(fmt.Sprintf(`{"i":%d}`, i)))
			events = append(events, e)
			ids = append(ids, e.ID)
		}
		if err := send(t, d, events...); err != nil {
			t.Fatalf("batch of %d: %v", n, err)
		}
		waitReceived(t, h, ids...)
	}
}

func testFaults(t *testing.T, h Harness) {
	tests := []struct {
		fault Fault
		want  sink.Class
	}{
		{FaultRetryable, sink.Retryable},
		{FaultRateLimited, sink.RateLimited},
		{FaultPermanent, sink.Permanent},
	}
	d := h.Open(t)
	defer d.Close(context.Background())
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			e := newEvent("fault", []byte(`{}`))
			if !h.Fail(e.ID, tt.fault) {
				t.Skip("the destination has no such answer")
			}
			err := send(t, d, e)
			if c := sink.Classify(err); err == nil || c.Class != tt.want {
				t.Fatalf("Send = %v, want class %v", err, tt.want)
			}
			if n := h.Attempts(e.ID); n != -1 && n != 1 {
				t.Errorf("one fault must be one attempt; the destination saw %d", n)
			}
		})
	}
}

func testPartial(t *testing.T, h Harness) {
	d := h.Open(t)
	defer d.Close(context.Background())
	events := []*event.Event{newEvent("part", []byte(`{"i":0}`)), newEvent("part", []byte(`{"i":1}`)), newEvent("part", []byte(`{"i":2}`))}
	if !h.Fail(events[1].ID, FaultPermanent) {
		t.Skip("no per-event faults")
	}
	err := send(t, d, events...)
	for i := range events {
		ierr := sink.ErrorFor(err, i)
		if (ierr != nil) != (i == 1) {
			t.Errorf("index %d: error %v", i, ierr)
		}
	}
	if c := sink.Classify(sink.ErrorFor(err, 1)); c.Class != sink.Permanent {
		t.Errorf("index 1 class %v, want permanent", c.Class)
	}
	waitReceived(t, h, events[0].ID, events[2].ID)
}

func testIDStable(t *testing.T, h Harness) {
	d := h.Open(t)
	defer d.Close(context.Background())
	e := newEvent("stable", []byte(`{}`))
	for i := 0; i < 2; i++ {
		if err := send(t, d, e); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, r := range h.Received(t) {
			if r.ID == e.ID {
				n++
			}
		}
		if n == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("id %s arrived %d times after two sends, want 2 with the same id", e.ID, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testCancel(t *testing.T, h Harness) {
	d := h.Open(t)
	defer d.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := d.Send(ctx, []*event.Event{newEvent("cancel", []byte(`{}`))})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Send with a canceled context took %s", took)
	}
	if err == nil {
		return // delivered before noticing: allowed, nothing was lost
	}
	if c := sink.Classify(err); c.Class != sink.Canceled {
		t.Errorf("Send with a canceled context = %v (class %v), want canceled", err, c.Class)
	}
}

func testClose(t *testing.T, h Harness) {
	d := h.Open(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_ = d.Send(ctx, []*event.Event{newEvent("close", []byte(`{}`))})
				cancel()
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("sends did not return after Close")
	}
	err := d.Send(context.Background(), []*event.Event{newEvent("after", []byte(`{}`))})
	if c := sink.Classify(err); err == nil || c.Class != sink.Canceled {
		t.Errorf("Send after Close = %v, want a canceled error", err)
	}
}
