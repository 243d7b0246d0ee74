// Package gatewayapi holds the gateway's domain types as its operators see
// them (a sink's status, a sink's view with its redacted definition, a
// replay's progress, an event with its attempts), the errors its
// operations return and the checks that produce them (CheckName,
// UnknownSink, Conflictf). The admin API serves them over HTTP and its
// client reads them back; the gateway and pkg/endpoints produce them.
// Neither side owns them, so both import this package and it imports
// neither.
package gatewayapi

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// SinkStatus is one sink as GET /v1/sinks shows it.
type SinkStatus struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Events []string `json:"events"`
	Tenant string   `json:"tenant,omitempty"`
	// Source is where the sink is defined: "config" (the YAML file) or
	// "api" (created through the endpoints API).
	Source string `json:"source"`
	// Delivery is how the sink is fed: "dedicated" (its own consumers) or
	// "shared" (the shared consumers). Empty for an API sink whose stored
	// record does not parse.
	Delivery string `json:"delivery,omitempty"`
	// State is running, paused, open, half_open, degraded, disabled, or,
	// for an API sink that does not run, conflict (its name is taken by
	// the config file), refused (its stored record breaks the rules a
	// create must pass: invalid, not allowed by api.allow, or stored in
	// plain text although a secrets key is set) or failed (see
	// StateReason).
	State string `json:"state"`
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

// Where a sink is defined (SinkStatus.Source).
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// SinkQuery selects a page of sinks: those of Tenant (all when empty),
// by name, after Cursor, at most Limit (all when 0).
type SinkQuery struct {
	Tenant string
	Limit  int
	Cursor string
}

// SinkPage is a page of sinks; Next is the cursor of the next page, ""
// on the last.
type SinkPage struct {
	Sinks []SinkView
	Next  string
}

// TestRequest is an optional test event for POST /v1/sinks/{name}/test.
type TestRequest struct {
	Type string          `json:"type,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// TestResult is what the destination answered to a test send.
type TestResult struct {
	OK         bool   `json:"ok"`
	EventID    string `json:"event_id"`
	Status     int    `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Response   string `json:"response"`
	Error      string `json:"error"`
}

// RotateResult is a new signing secret, shown once, and when the one it
// replaces stops signing.
type RotateResult struct {
	Secret            string    `json:"secret"`
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// SinkRevision is one change in an API sink's history.
type SinkRevision struct {
	Revision uint64       `json:"revision"`
	Op       string       `json:"op"` // create, update, rotate, auto-disable, seal, expire-secrets, delete
	At       time.Time    `json:"at"`
	Actor    string       `json:"actor,omitempty"`
	Reason   string       `json:"reason,omitempty"`
	Sink     *config.Sink `json:"sink,omitempty"` // the definition then, redacted; nil when unreadable
}

// Errors the gateway's operations return; the admin API answers
// ErrUnknownSink and ErrNotFound with 404, ErrBadRequest with 400,
// ErrConflict with 409.
var (
	ErrUnknownSink = errors.New("unknown sink")
	ErrNotFound    = errors.New("not found")
	ErrBadRequest  = errors.New("bad request")
	ErrConflict    = errors.New("conflict")
)

// ErrNotRunning is returned by what needs a running gateway (a reload, a
// replay) when called before it runs or once it is stopping.
var ErrNotRunning = errors.New("gateway not running")
