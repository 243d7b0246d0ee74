package dispatch_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Each dispatcher's attempt spans go to the tracer provider it was built
// with, also when another dispatcher ran with another provider before it
// (a tracer taken once from the global provider kept the first one).
func TestDeliverySpansGoToTheDispatchersProvider(t *testing.T) {
	r := run(t, func(string, int) error { return nil })
	r.stop() // the rig's own dispatcher is untraced; each round starts its own
	events, redrive, err := r.b.EnsureConsumers(t.Context(), r.sink, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := telemetry.NewMetrics()
	var exps []*tracetest.InMemoryExporter
	for i, id := range []string{"first", "second"} {
		exp := tracetest.NewInMemoryExporter()
		exps = append(exps, exp)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		d := dispatch.New(dispatch.Options{Sink: r.sink, Driver: r.drv, JS: r.b.JS,
			Consumers: []jetstream.Consumer{events, redrive}, DLQ: r.dlq, Metrics: metrics, Logger: log, TracerProvider: tp})
		stop := runDispatcher(t, d, 2*time.Second)
		r.publish(t, id)
		testutil.WaitFor(t, 10*time.Second, "the "+id+" dispatcher's span", func() bool { return len(exp.GetSpans()) == 1 })
		stop()
		if span := exp.GetSpans()[0]; span.Name != "deliver "+r.sink.Name {
			t.Errorf("round %d: span %q", i, span.Name)
		}
	}
	if n := len(exps[0].GetSpans()); n != 1 {
		t.Errorf("the first provider has %d spans, want its own one", n)
	}
}
