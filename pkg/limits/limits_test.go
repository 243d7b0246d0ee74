package limits

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/lifecycle"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

func TestAgeWarning(t *testing.T) {
	for _, c := range []struct {
		age, maxAge time.Duration
		warn        bool
		ratio       float64
	}{
		{0, time.Hour, false, 0},
		{30 * time.Minute, time.Hour, false, 0.5},
		{48 * time.Minute, time.Hour, true, 0.8},
		{time.Hour, 0, false, 0}, // no max_age: nothing ages out
	} {
		msg, ratio := AgeWarning(c.age, c.maxAge)
		if (msg != "") != c.warn || ratio != c.ratio {
			t.Errorf("AgeWarning(%s, %s) = %q, %v; want warning %v, ratio %v", c.age, c.maxAge, msg, ratio, c.warn, c.ratio)
		}
		if c.warn && !strings.Contains(msg, "80% of stream.max_age") {
			t.Errorf("warning %q", msg)
		}
	}
}

type sinks struct {
	mu   sync.Mutex
	list []Sink
}

func (s *sinks) LimitSinks() []Sink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sink(nil), s.list...)
}

func (s *sinks) set(list ...Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = list
}

// A sink's backlog sets its gauge, and its series goes when it does; an
// events stream past 80% of max_bytes is warned about once, not on every
// check.
func TestWatcherGaugesAndOneWarningPerCrossing(t *testing.T) {
	old := Interval
	Interval = 20 * time.Millisecond
	t.Cleanup(func() { Interval = old })
	js := testutil.StartJetStream(t, nil)
	ctx := context.Background()
	if _, err := js.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}, MaxBytes: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	c, err := js.JS.CreateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: "a", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 1000))
	for range 55 {
		if _, err := js.JS.Publish(ctx, "events.x", body); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu     sync.Mutex
		ratios []float64
	)
	s := &sinks{}
	s.set(Sink{Name: "a", Filters: []string{"events.>"}, Consumer: c, SetRatio: func(r float64) {
		mu.Lock()
		defer mu.Unlock()
		ratios = append(ratios, r)
	}})
	logs := &testutil.SyncBuffer{}
	m := telemetry.NewMetrics()
	m.OldestPendingRatio.WithLabelValues("gone").Set(0.5) // a sink removed before the first check
	w := lifecycle.Go(&Watcher{JS: js.JS, Stream: "EVENTS", MaxAge: time.Hour, Sinks: s, Metrics: m, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	testutil.WaitFor(t, 5*time.Second, "the stream warning", func() bool { return strings.Contains(logs.String(), "events stream is") })
	testutil.WaitFor(t, 5*time.Second, "the sink's ratio set", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ratios) > 0 && ratios[0] > 0
	})
	if r := promtest.ToFloat64(m.StreamBytesRatio.WithLabelValues("EVENTS")); r < 0.8 || r >= 1 {
		t.Errorf("stream bytes ratio %v, want in [0.8, 1)", r)
	}
	// Ten more checks: a warning repeated on each would show.
	testutil.Holds(t, 10*Interval, "one warning per crossing", func() bool { return strings.Count(logs.String(), "events stream is") == 1 })
	m.OldestPendingRatio.WithLabelValues("a").Set(0.1)
	s.set()
	testutil.WaitFor(t, 5*time.Second, "the removed sink's series deleted", func() bool {
		return promtest.CollectAndCount(m.OldestPendingRatio) == 1 // "gone" was never this watcher's
	})
}

// The collector reads a sink's backlog at scrape time.
func TestCollectorReadsTheBacklogAtScrape(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	ctx := context.Background()
	if _, err := js.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatal(err)
	}
	c, err := js.JS.CreateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: "a", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	s := &sinks{}
	s.set(Sink{Name: "a", Consumer: c})
	col := NewCollector(s)
	for range 3 {
		if _, err := js.JS.Publish(ctx, "events.x", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	want := strings.NewReader(`
# HELP switchyard_consumer_pending Events in the stream not yet delivered to the sink.
# TYPE switchyard_consumer_pending gauge
switchyard_consumer_pending{sink="a"} 3
`)
	if err := promtest.CollectAndCompare(col, want, "switchyard_consumer_pending"); err != nil {
		t.Fatal(err)
	}
}
