package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// Outcomes a request or an event is counted under.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeUnauthorized = "unauthorized"
	OutcomeForbidden    = "forbidden"
	OutcomeInvalid      = "invalid"
	OutcomeTooLarge     = "too_large"
	OutcomeUnavailable  = "unavailable"
	OutcomeRateLimited  = "rate_limited"
)

var outcomes = []string{OutcomeAccepted, OutcomeDuplicate, OutcomeUnauthorized, OutcomeForbidden, OutcomeInvalid, OutcomeTooLarge, OutcomeUnavailable, OutcomeRateLimited}

// Reasons a provider webhook is refused with 401, for the metric.
const (
	ReasonMissing   = provider.ReasonMissing
	ReasonMismatch  = provider.ReasonMismatch
	ReasonTimestamp = provider.ReasonTimestamp
)

var reasons = []string{ReasonMissing, ReasonMismatch, ReasonTimestamp}

// Kinds of the "kind" label: a publish API token or a provider source.
const (
	kindToken  = "token"
	kindSource = "source"
)

// Metrics are the ingest side's Prometheus metrics, labelled by kind
// (token, source) and name.
type Metrics struct {
	Requests *prometheus.CounterVec   // kind, name, outcome
	Events   *prometheus.CounterVec   // kind, name, outcome (accepted, duplicate, unavailable)
	Bytes    *prometheus.CounterVec   // kind, name
	Latency  *prometheus.HistogramVec // kind, name: request → every PubAck
	Refused  *prometheus.CounterVec   // kind, name, reason: signatures refused
}

func newMetrics() *Metrics {
	return &Metrics{
		Requests: telemetry.NewCounterVec("switchyard_ingest_requests_total", "Ingest requests by kind (token, source), name and outcome.", "kind", "name", "outcome"),
		Events:   telemetry.NewCounterVec("switchyard_ingest_events_total", "Events ingested by kind, name and outcome (accepted, duplicate, unavailable).", "kind", "name", "outcome"),
		Bytes:    telemetry.NewCounterVec("switchyard_ingest_bytes_total", "Request body bytes read by kind and name.", "kind", "name"),
		Latency: telemetry.NewHistogramVec("switchyard_ingest_ack_seconds", "Time from a request's arrival to the PubAck of its last event, by kind and name.",
			prometheus.ExponentialBuckets(0.0002, 2.5, 12), "kind", "name"),
		Refused: telemetry.NewCounterVec("switchyard_ingest_signature_refused_total", "Provider webhooks refused with 401, by source and reason.", "kind", "name", "reason"),
	}
}

func (m *Metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.Requests, m.Events, m.Bytes, m.Latency, m.Refused} {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// labelMetrics are one token's or source's series, resolved once so the
// hot path touches only atomic counters (a vector's lookup takes a lock).
type labelMetrics struct {
	name     string
	requests map[string]prometheus.Counter
	events   map[string]prometheus.Counter
	refused  map[string]prometheus.Counter
	bytes    prometheus.Counter
	latency  prometheus.Observer
}

func (m *Metrics) labels(kind, name string) *labelMetrics {
	lm := &labelMetrics{name: name, requests: map[string]prometheus.Counter{}, events: map[string]prometheus.Counter{}, refused: map[string]prometheus.Counter{},
		bytes: m.Bytes.WithLabelValues(kind, name), latency: m.Latency.WithLabelValues(kind, name)}
	for _, o := range outcomes {
		lm.requests[o] = m.Requests.WithLabelValues(kind, name, o)
	}
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeUnavailable} {
		lm.events[o] = m.Events.WithLabelValues(kind, name, o)
	}
	if kind == kindSource {
		for _, r := range reasons {
			lm.refused[r] = m.Refused.WithLabelValues(kind, name, r)
		}
	}
	return lm
}
