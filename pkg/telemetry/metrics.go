// Package telemetry holds Switchyard's logging setup (NewLogger), its
// tracing setup (SetupTracing, OpenTelemetry over OTLP), the gateway's
// Prometheus metrics (Metrics), the constructors every Switchyard metric
// is built with (NewCounterVec and its kin), and Quantile, which reads a
// latency quantile back from a histogram.
package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Outcomes a delivery attempt is counted under.
const (
	OutcomeDelivered   = "delivered"
	OutcomeRetried     = "retried"
	OutcomeRateLimited = "rate_limited"
	OutcomeDeadLetter  = "dead_lettered"
	OutcomeCanceled    = "canceled"
	// OutcomeDeadLetterHeld: the event failed for good, but its dead letter
	// could not be stored yet; it is held until the store works.
	OutcomeDeadLetterHeld = "dead_letter_held"
)

// Metrics is every metric Switchyard exports, on its own registry so tests
// and several gateways in one process do not collide.
type Metrics struct {
	Registry     *prometheus.Registry
	Deliveries   *prometheus.CounterVec   // sink, outcome
	SendDuration *prometheus.HistogramVec // sink: one driver.Send
	EventLatency *prometheus.HistogramVec // sink: stream publish → delivered
	InFlight     *prometheus.GaugeVec     // sink
	DeadLetters  *prometheus.CounterVec   // sink, reason class
	SinkState    *prometheus.GaugeVec     // sink, state: 1 for the current one
	StateChanges *prometheus.CounterVec   // sink, to
	// Degraded is 1 while a cause keeps the sink from working normally:
	// dead_letter_store (dead letters cannot be stored), consumer (its
	// durable consumer was lost and is being recreated).
	Degraded *prometheus.GaugeVec // sink, cause
	// DeadLetterStoreFailures counts failed attempts to store a dead letter.
	DeadLetterStoreFailures *prometheus.CounterVec // sink
	// ConsumersRecreated counts durable consumers recreated after a loss.
	ConsumersRecreated *prometheus.CounterVec // sink
	// OldestPendingRatio is the age of a sink's oldest unsettled event as
	// a fraction of stream.max_age: at 1, events leave the stream
	// undelivered. The gateway warns from 0.8.
	OldestPendingRatio *prometheus.GaugeVec // sink
	// StreamBytesRatio is a stream's size as a fraction of its max_bytes:
	// at 1 the stream refuses writes. The gateway warns from 0.8.
	StreamBytesRatio *prometheus.GaugeVec // stream
	// AutoDisabled counts sinks disabled after failing for disable_after.
	AutoDisabled *prometheus.CounterVec // sink
	// APISinksNotRunning is the number of API sinks that do not run, by
	// reason: conflict (the config file has a sink of that name), failed.
	APISinksNotRunning *prometheus.GaugeVec // reason
	// SinkRecordsRefused counts the API sink records read from the sinks
	// bucket that break the rules a create must pass, by reason: invalid,
	// not_allowed (api.allow), unsealed (plain although a secrets key is
	// set). A refused record is not started.
	SinkRecordsRefused *prometheus.CounterVec // reason
}

// NewMetrics registers the metrics on a fresh registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry:   r,
		Deliveries: NewCounterVec("switchyard_deliveries_total", "Delivery attempts by sink and outcome.", "sink", "outcome"),
		SendDuration: NewHistogramVec("switchyard_delivery_duration_seconds", "Time one delivery attempt took, by sink.",
			prometheus.ExponentialBuckets(0.001, 2.5, 12), "sink"),
		EventLatency: NewHistogramVec("switchyard_event_latency_seconds", "Time from the event's arrival in the stream to its successful delivery, by sink.",
			prometheus.ExponentialBuckets(0.001, 3, 14), "sink"),
		InFlight:    NewGaugeVec("switchyard_deliveries_in_flight", "Events being delivered now, by sink.", "sink"),
		DeadLetters: NewCounterVec("switchyard_dead_letters_total", "Events dead-lettered, by sink and cause.", "sink", "cause"),
	}
	m.SinkState = NewGaugeVec("switchyard_sink_state", "1 for the sink's current state (running, paused, open, half_open).", "sink", "state")
	m.StateChanges = NewCounterVec("switchyard_sink_state_changes_total", "Sink state changes, by the state entered.", "sink", "state")
	m.Degraded = NewGaugeVec("switchyard_sink_degraded", "1 while a cause (dead_letter_store, consumer) degrades the sink.", "sink", "cause")
	m.DeadLetterStoreFailures = NewCounterVec("switchyard_dead_letter_store_failures_total", "Failed attempts to store a dead letter; the event is held until one succeeds.", "sink")
	m.ConsumersRecreated = NewCounterVec("switchyard_consumers_recreated_total", "Durable consumers recreated after being lost, by sink.", "sink")
	r.MustRegister(m.Deliveries, m.SendDuration, m.EventLatency, m.InFlight, m.DeadLetters, m.SinkState, m.StateChanges,
		m.Degraded, m.DeadLetterStoreFailures, m.ConsumersRecreated)
	m.OldestPendingRatio = NewGaugeVec("switchyard_sink_oldest_pending_max_age_ratio", "Age of the sink's oldest unsettled event as a fraction of stream.max_age (at 1 events age out undelivered).", "sink")
	m.StreamBytesRatio = NewGaugeVec("switchyard_stream_bytes_ratio", "Stream size as a fraction of its max_bytes (at 1 the stream refuses writes).", "stream")
	m.AutoDisabled = NewCounterVec("switchyard_sinks_auto_disabled_total", "Sinks disabled (API) or paused (config file) after failing continuously for disable_after.", "sink")
	m.APISinksNotRunning = NewGaugeVec("switchyard_api_sinks_not_running", "API sinks that do not run, by reason: conflict (a config-file sink has the name), refused (the stored record breaks the API rules) or failed.", "reason")
	m.SinkRecordsRefused = NewCounterVec("switchyard_sink_records_refused_total", "API sink records read from the sinks bucket and refused (not started) for breaking the rules a create must pass, by reason: invalid, not_allowed (api.allow), unsealed (plain text although a secrets key is set).", "reason")
	r.MustRegister(m.OldestPendingRatio, m.StreamBytesRatio, m.AutoDisabled, m.APISinksNotRunning, m.SinkRecordsRefused)
	return m
}

// ForgetSink deletes every series of the sink called name, whatever its
// other labels: a sink that no longer runs here must not keep its series
// (sink churn would grow memory for good) nor hand its counts to a later
// sink of the same name. Call it once the sink's dispatcher has stopped.
func (m *Metrics) ForgetSink(name string) {
	sink := prometheus.Labels{"sink": name}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{
		m.Deliveries, m.SendDuration, m.EventLatency, m.InFlight, m.DeadLetters, m.SinkState, m.StateChanges,
		m.Degraded, m.DeadLetterStoreFailures, m.ConsumersRecreated, m.OldestPendingRatio, m.AutoDisabled,
	} {
		v.DeletePartialMatch(sink)
	}
}
