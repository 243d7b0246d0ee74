package dispatch

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const tracerName = "github.com/switchyard-dev/switchyard/pkg/dispatch"

// untraced is the process's tracer provider before one is installed: while
// it still is, every span would be a non-recording one, so none is started
// (a span and a context a delivery, for nothing).
var untraced = otel.GetTracerProvider()

// newTracer is the tracer of a dispatcher's spans: tp's, or, when tp is
// nil, the provider the process has installed when the dispatcher is
// built; nil when that is none. Not a tracer taken from the global
// provider once for the package: otel binds such a tracer to the first
// provider ever installed, and keeps sending its spans there after another
// one replaces it.
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if tp == untraced {
		return nil
	}
	return tp.Tracer(tracerName)
}

// noSpan is the span of a delivery with tracing off.
var noSpan = trace.SpanFromContext(context.Background())

// startSpan opens the span of one delivery attempt, a child of the
// producer's traceparent when the event has one, and makes it the
// traceparent the destination receives: the receiver's work then hangs
// under this attempt. With tracing off the traceparent passes unchanged.
func (d *Dispatcher) startSpan(x delivery) trace.Span {
	if d.tracer == nil {
		return noSpan
	}
	parent := context.Background()
	if x.ev.TraceParent != "" {
		// W3C trace context is the contract (the traceparent header),
		// whatever global propagator the process has.
		parent = propagation.TraceContext{}.Extract(parent, propagation.MapCarrier{"traceparent": x.ev.TraceParent})
	}
	ctx, span := d.tracer.Start(parent, d.spanName, trace.WithSpanKind(trace.SpanKindProducer))
	if !span.IsRecording() {
		// Tracing off: no attributes to build, and the traceparent passes
		// unchanged.
		return span
	}
	span.SetAttributes(
		attribute.String("switchyard.sink", d.opts.Sink.Name),
		attribute.String("switchyard.sink.kind", d.opts.Sink.Kind()),
		attribute.String("switchyard.event.id", x.ev.ID),
		attribute.String("switchyard.event.type", x.ev.Type),
		attribute.Int("switchyard.attempt", x.attempt),
	)
	if span.SpanContext().IsValid() {
		out := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, out)
		if tp := out["traceparent"]; tp != "" {
			x.ev.TraceParent = tp
		}
	}
	return span
}

func endSpan(span trace.Span, outcome string, status int, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(attribute.String("switchyard.outcome", outcome))
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// traceID is the trace id of a W3C traceparent (version-traceid-spanid-
// flags), "" when there is none.
func traceID(traceparent string) string {
	if len(traceparent) == 55 && traceparent[2] == '-' && traceparent[35] == '-' {
		return traceparent[3:35]
	}
	return ""
}
