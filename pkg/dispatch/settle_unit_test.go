package dispatch_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// scripted is a driver whose answer to the n-th attempt of an event
// (n from 1) is script(id, n); it records when each attempt came.
type scripted struct {
	script func(id string, n int) error
	mu     sync.Mutex
	at     map[string][]time.Time
}

func (s *scripted) Send(_ context.Context, batch []*event.Event) error {
	be := sink.NewBatchError()
	for i, e := range batch {
		s.mu.Lock()
		s.at[e.ID] = append(s.at[e.ID], time.Now())
		n := len(s.at[e.ID])
		s.mu.Unlock()
		if err := s.script(e.ID, n); err != nil {
			be.Fail(i, err)
		}
	}
	if len(be.Failed) > 0 {
		return be
	}
	return nil
}

func (*scripted) Close(context.Context) error { return nil }

func (s *scripted) attempts(id string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at[id]...)
}

type rig struct {
	b     *bus.Bus
	dlq   *deadletter.Store
	drv   *scripted
	sink  config.Sink
	start time.Time
	stop  func() // stops the rig's dispatcher (once)
}

// run starts a dispatcher for one sink (schedule 200ms, 400ms: three
// attempts, no jitter) against a real embedded JetStream, with the
// scripted driver.
func run(t *testing.T, script func(id string, n int) error) *rig {
	t.Helper()
	js := testutil.StartJetStream(t, nil)
	b, cfg := testutil.OpenBus(t, js, func(c *config.Config) {
		c.Stream.MaxBytes.N = 8 << 20
		c.DeadLetters.MaxBytes.N = 8 << 20
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := config.SinkDefaults(nil)
	s.Name, s.Events, s.Concurrency = "unit", []string{">"}, 2
	s.AckWait.D = 5 * time.Second
	s.Batch.MaxEvents = 1
	jitter := 0.0
	s.Retry.Schedule, s.Retry.Jitter = []config.Duration{{D: 200 * time.Millisecond}, {D: 400 * time.Millisecond}}, &jitter
	s.Retry.MaxRetryAfter.D = time.Second
	events, redrive, err := b.EnsureConsumers(t.Context(), s, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{b: b, drv: &scripted{script: script, at: map[string][]time.Time{}}, sink: s,
		dlq: &deadletter.Store{JS: b.JS, Stream: cfg.DeadLetters.Stream}}
	d := dispatch.New(dispatch.Options{Sink: s, Driver: r.drv, JS: b.JS, Consumers: []jetstream.Consumer{events, redrive},
		DLQ: r.dlq, Metrics: telemetry.NewMetrics(), Logger: log})
	r.stop = runDispatcher(t, d, 2*time.Second)
	r.start = time.Now()
	return r
}

func (r *rig) publish(t *testing.T, id string) {
	t.Helper()
	msg := &nats.Msg{Subject: "events.order.created", Data: []byte(`{}`), Header: nats.Header{}}
	msg.Header.Set(event.HeaderMsgID, id)
	if _, err := r.b.JS.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) deadLetters(t *testing.T) []deadletter.Record {
	t.Helper()
	recs, err := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// pending is how many of the events consumer's messages are neither acked
// nor terminated.
func (r *rig) pending(t *testing.T) int {
	t.Helper()
	c, err := r.b.JS.Consumer(t.Context(), "EVENTS", r.sink.Name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumAckPending + int(info.NumPending)
}

// gaps are the delays between consecutive attempts.
func gaps(at []time.Time) []time.Duration {
	var g []time.Duration
	for i := 1; i < len(at); i++ {
		g = append(g, at[i].Sub(at[i-1]))
	}
	return g
}

func near(got, want time.Duration) bool {
	return got >= want-20*time.Millisecond && got < want+400*time.Millisecond
}

func TestSettle(t *testing.T) {
	retryable := sink.RetryableError(503, errors.New("unavailable"))
	tests := []struct {
		name       string
		script     func(id string, n int) error
		attempts   int
		wantGaps   []time.Duration // NakWithDelay per schedule / Retry-After
		wantReason string          // "" : delivered, no dead letter
		wantStatus int
	}{
		{"delivered first time", func(string, int) error { return nil }, 1, nil, "", 0},
		{"retryable then delivered, on schedule", func(_ string, n int) error {
			if n < 3 {
				return retryable
			}
			return nil
		}, 3, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, "", 0},
		{"permanent: dead-lettered at once", func(string, int) error {
			return sink.PermanentError(410, errors.New("gone"))
		}, 1, nil, "gone", 410},
		{"last attempt: dead-lettered", func(string, int) error { return retryable }, 3,
			[]time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, "gave up after 3 attempts", 503},
		{"rate limited: after Retry-After, capped by max_retry_after", func(_ string, n int) error {
			if n == 1 {
				return sink.RateLimitedError(429, 700*time.Millisecond, errors.New("slow down"))
			}
			if n == 2 {
				return sink.RateLimitedError(429, time.Hour, errors.New("much slower"))
			}
			return nil
		}, 3, []time.Duration{700 * time.Millisecond, time.Second}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, tt.script)
			r.publish(t, "e1")
			testutil.WaitFor(t, 10*time.Second, "the event settled", func() bool {
				return len(r.drv.attempts("e1")) == tt.attempts && r.pending(t) == 0
			})
			// Nothing more comes: 300ms is longer than the first gap of
			// the schedule (200ms), in which a wrong extra attempt shows.
			testutil.Holds(t, 300*time.Millisecond, "no attempt after the event settled", func() bool {
				return len(r.drv.attempts("e1")) == tt.attempts
			})
			at := r.drv.attempts("e1")
			if len(at) != tt.attempts {
				t.Fatalf("%d attempts, want %d", len(at), tt.attempts)
			}
			for i, g := range gaps(at) {
				if !near(g, tt.wantGaps[i]) {
					t.Errorf("delay before attempt %d: %s, want about %s", i+2, g, tt.wantGaps[i])
				}
			}
			recs := r.deadLetters(t)
			if tt.wantReason == "" {
				if len(recs) != 0 {
					t.Errorf("dead letters %+v, want none", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d dead letters, want 1", len(recs))
			}
			rec := recs[0]
			if rec.ID != "e1" || !strings.Contains(rec.Reason, tt.wantReason) || rec.Status != tt.wantStatus || rec.Attempts != tt.attempts {
				t.Errorf("dead letter %+v, want reason ~%q, status %d, attempts %d", rec, tt.wantReason, tt.wantStatus, tt.attempts)
			}
		})
	}
}

// While the dead-letter store fails, a permanently failed event is held,
// not redelivered to the destination nor dropped; once the store works it
// is dead-lettered, its one attempt unspent by the wait.
func TestDeadLetterStoreFailingHoldsTheEvent(t *testing.T) {
	r := run(t, func(string, int) error { return sink.PermanentError(400, errors.New("bad request")) })
	if err := r.b.JS.DeleteStream(t.Context(), r.dlq.Stream); err != nil {
		t.Fatal(err)
	}
	r.publish(t, "held")
	testutil.WaitFor(t, 5*time.Second, "the first attempt", func() bool { return len(r.drv.attempts("held")) == 1 })
	// 1s spans the hold's first two store retries (250ms, then 500ms):
	// a hold that sent to the destination again would show here.
	testutil.Holds(t, time.Second, "one attempt while the dead-letter store fails", func() bool {
		return len(r.drv.attempts("held")) == 1
	})
	if n := len(r.drv.attempts("held")); n != 1 {
		t.Errorf("%d attempts while the dead-letter store failed, want 1", n)
	}
	if p := r.pending(t); p != 1 {
		t.Errorf("%d pending while the store failed, want the event kept (1)", p)
	}
	if err := r.b.EnsureStreams(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "the dead letter once the store works", func() bool {
		recs, err := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
		return err == nil && len(recs) == 1
	})
	testutil.WaitFor(t, 5*time.Second, "the event terminated", func() bool { return r.pending(t) == 0 })
	if n := len(r.drv.attempts("held")); n != 1 {
		t.Errorf("%d attempts in all, want 1", n)
	}
}
