package gateway_test

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// Each attempt is a span, a child of the producer's traceparent, and the
// receiver gets the attempt's span as its parent.
func TestDeliverySpansFollowTheProducersTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(prev)

	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	const producer = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	gatewaytest.Publish(t, g, "order.completed", "tr1", []byte(`{}`), map[string]string{"traceparent": producer})
	testutil.WaitFor(t, 10*time.Second, "the span", func() bool { return len(exp.GetSpans()) == 1 })
	span := exp.GetSpans()[0]
	if span.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || span.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span trace %s parent %s", span.SpanContext.TraceID(), span.Parent.SpanID())
	}
	if span.Name != "deliver s" {
		t.Errorf("span name %q", span.Name)
	}
	hits := rc.Hits("s")
	if len(hits) != 1 || !strings.Contains(hits[0].Trace, span.SpanContext.SpanID().String()) || !strings.Contains(hits[0].Trace, "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("receiver's traceparent %q, want the attempt's span %s in the producer's trace", hits[0].Trace, span.SpanContext.SpanID())
	}
}
