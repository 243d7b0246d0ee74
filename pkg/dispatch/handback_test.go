package dispatch_test

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// An event held at the gate (here: a paused sink that had pulled it) is
// handed back unattempted when its dispatcher stops, as on every reload of
// the sink and every restart; JetStream counts each of those as a
// delivery. Only real attempts spend the retry budget: after three such
// stops the event still gets every attempt of its schedule before it is
// dead-lettered.
func TestHeldAtTheGateAcrossStopsKeepsItsRetryBudget(t *testing.T) {
	r := run(t, func(string, int) error { return sink.RetryableError(503, errors.New("unavailable")) })
	r.stop() // the rig's own dispatcher; each round below starts its own
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := telemetry.NewMetrics()
	events, redrive, err := r.b.EnsureConsumers(t.Context(), r.sink, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	state, err := r.b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := func(paused bool) func() {
		d := dispatch.New(handbackOptions(t, r.b, dispatch.Options{Sink: r.sink, Driver: r.drv, JS: r.b.JS,
			Consumers: []jetstream.Consumer{events, redrive}, DLQ: r.dlq, Metrics: metrics, Logger: log}, state))
		if paused {
			d.Pause("held for the test")
			// The gate stays shut while JetStream hands the consumer its
			// message: the event waits at the gate, pulled, unattempted.
			if _, err := r.b.JS.PauseConsumer(t.Context(), "EVENTS", r.sink.Name, time.Now().Add(20*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		return runDispatcher(t, d, 2*time.Second)
	}
	const stops = 3
	for i := 1; i <= stops; i++ {
		stop := start(true)
		if i == 1 {
			r.publish(t, "held")
		}
		testutil.WaitFor(t, 10*time.Second, "the event pulled and held at the gate", func() bool {
			info, err := events.Info(t.Context())
			return err == nil && info.NumAckPending == 1 && info.NumPending == 0 && int(info.Delivered.Consumer) >= i
		})
		stop()
		if n := len(r.drv.attempts("held")); n != 0 {
			t.Fatalf("%d attempts while held at the gate", n)
		}
	}
	stop := start(false)
	defer stop()
	testutil.WaitFor(t, 10*time.Second, "the event dead-lettered", func() bool {
		recs, err := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
		return err == nil && len(recs) == 1 && r.pending(t) == 0
	})
	want := r.sink.Retry.Attempts()
	if n := len(r.drv.attempts("held")); n != want {
		t.Errorf("%d real attempts before the dead letter after %d stops at the gate, want the schedule's %d", n, stops, want)
	}
	recs, _ := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
	if recs[0].Attempts != want {
		t.Errorf("dead letter says %d attempts (%s), want %d", recs[0].Attempts, recs[0].Reason, want)
	}
	// Settled for good, the event leaves nothing in the state bucket: no
	// record, no delete marker.
	st, err := r.b.JS.Stream(t.Context(), "KV_"+bus.StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter("$KV."+bus.StateBucket+".handback.>"))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 0 {
		t.Errorf("handback records left: %v", info.State.Subjects)
	}
}

// handbackOptions is opts as the gateway wires them.
func handbackOptions(t *testing.T, b *bus.Bus, opts dispatch.Options, state jetstream.KeyValue) dispatch.Options {
	t.Helper()
	h, err := dispatch.NewHandbacks(t.Context(), b.JS, state)
	if err != nil {
		t.Fatal(err)
	}
	opts.Handbacks = h
	return opts
}
