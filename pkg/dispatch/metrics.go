package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// hotMetrics are the sink's metrics touched for every event, resolved once:
// a labelled lookup hashes its label values each time.
type hotMetrics struct {
	delivered, retried    prometheus.Counter
	latency, sendDuration prometheus.Observer
	inFlight              prometheus.Gauge
}

func resolveHotMetrics(m *telemetry.Metrics, sink string) hotMetrics {
	return hotMetrics{
		delivered:    m.Deliveries.WithLabelValues(sink, telemetry.OutcomeDelivered),
		retried:      m.Deliveries.WithLabelValues(sink, telemetry.OutcomeRetried),
		latency:      m.EventLatency.WithLabelValues(sink),
		sendDuration: m.SendDuration.WithLabelValues(sink),
		inFlight:     m.InFlight.WithLabelValues(sink),
	}
}
