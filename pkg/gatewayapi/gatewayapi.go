// Package gatewayapi holds the gateway's domain types as its operators see
// them (a sink's status, a replay's progress, an event with its attempts)
// and the errors its operations return. The admin API serves them over
// HTTP and its client reads them back; the gateway produces them. Neither
// side owns them, so both import this package and it imports neither.
package gatewayapi

import (
	"errors"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
)

// SinkStatus is one sink as GET /v1/sinks shows it.
type SinkStatus struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Events []string `json:"events"`
	State  string   `json:"state"`
	// StateReason says why the sink is not running: the pause reason, the
	// breaker's cause, or what degrades it (a dead-letter store outage, a
	// lost consumer being recreated).
	StateReason string `json:"state_reason,omitempty"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	InFlight    int64  `json:"in_flight"`
	DeadLetters uint64 `json:"dead_letters"`
	Delivered   uint64 `json:"delivered"` // attempts that succeeded since this gateway started
	Failed      uint64 `json:"failed"`    // attempts that failed since this gateway started
	// OldestPendingSeconds is the age of the oldest event not yet settled.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	// LatencyP99Seconds is the p99 of stream arrival → delivery since start.
	LatencyP99Seconds float64    `json:"latency_p99_seconds"`
	LastSuccess       *time.Time `json:"last_success,omitempty"`
	LastError         string     `json:"last_error,omitempty"`
	LastErrorTime     *time.Time `json:"last_error_time,omitempty"`
	// Warnings name what will lose events if nothing changes, such as the
	// oldest pending event nearing stream.max_age.
	Warnings []string `json:"warnings,omitempty"`
}

// ReplayRequest asks to re-deliver a time range of the stream to one sink.
type ReplayRequest struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitempty"` // default: now
	Types []string  `json:"types,omitempty"` // default: all the sink's types
}

// ReplayStatus is a replay's progress.
type ReplayStatus struct {
	ID         string     `json:"id"`
	Sink       string     `json:"sink"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until,omitempty"`
	Types      []string   `json:"types,omitempty"`
	State      string     `json:"state"` // running, done, canceled, failed
	Total      uint64     `json:"total"`
	Done       uint64     `json:"done"`
	Rate       float64    `json:"rate_per_second"`
	ETASeconds float64    `json:"eta_seconds,omitempty"`
	Started    time.Time  `json:"started"`
	Finished   *time.Time `json:"finished,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// EventView is an event with every attempt to deliver it, across sinks.
type EventView struct {
	ID       string              `json:"id"`
	Type     string              `json:"type"`
	Subject  string              `json:"subject,omitempty"`
	Time     time.Time           `json:"time,omitempty"`
	Headers  map[string][]string `json:"headers,omitempty"`
	Data     []byte              `json:"data,omitempty"` // base64 in JSON
	Attempts []attempts.Record   `json:"attempts"`
}

// Errors the gateway's operations return; the admin API answers
// ErrUnknownSink and ErrNotFound with 404, ErrBadRequest with 400.
var (
	ErrUnknownSink = errors.New("unknown sink")
	ErrNotFound    = errors.New("not found")
	ErrBadRequest  = errors.New("bad request")
)
