package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Event is one event as POST /v1/events takes it.
type Event struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Source  string `json:"source,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Time is RFC 3339; empty: the time the stream stored the event.
	Time   string `json:"time,omitempty"`
	Tenant string `json:"tenant,omitempty"`
	// Data is any JSON value, kept byte for byte; DataBase64 carries bytes
	// that are not JSON. At most one of them.
	Data        json.RawMessage `json:"data,omitempty"`
	DataBase64  string          `json:"data_base64,omitempty"`
	ContentType string          `json:"datacontenttype,omitempty"`
}

// Result is one event's fate in a 202 or 503 answer.
type Result struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
	// Stored is false, in a 503, for the events JetStream did not
	// acknowledge; a 202 stores them all.
	Stored bool `json:"stored"`
}

// Accepted is the body of a 202.
type Accepted struct {
	IDs     []string `json:"ids"`
	Results []Result `json:"results"`
}

// Problem is the body of an error answer; Index and Field name the event
// and field a 400 or 403 is about.
type Problem struct {
	Error   string   `json:"error"`
	Index   *int     `json:"index,omitempty"`
	Field   string   `json:"field,omitempty"`
	Results []Result `json:"results,omitempty"`
}

// fieldError is a refusal of the whole request because of one event.
type fieldError struct {
	status int
	index  int // -1: the body as a whole
	field  string
	msg    string
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	tk := h.tokens.authenticate(r)
	if tk == nil {
		h.unknown.requests[OutcomeUnauthorized].Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard-ingest"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	lm := tk.metrics
	// A token out of credit is refused before its body is read: a
	// throttled client cannot make the gateway buffer and parse it.
	if tk.limit != nil {
		if ok, wait := tk.limit.ready(); !ok {
			h.rateLimited(w, lm, wait)
			return
		}
	}
	body, ok := h.readCounted(w, r, lm, true)
	if !ok {
		return
	}
	events, ferr := decodeEvents(body)
	if ferr == nil {
		ferr = checkEvents(events, tk.tenant)
	}
	if ferr != nil {
		outcome := OutcomeInvalid
		if ferr.status == http.StatusForbidden {
			outcome = OutcomeForbidden
		}
		lm.requests[outcome].Inc()
		p := Problem{Error: ferr.msg, Field: ferr.field}
		if ferr.index >= 0 {
			p.Index = &ferr.index
		}
		writeJSON(w, ferr.status, p)
		return
	}
	if tk.limit != nil {
		if ok, wait := tk.limit.allow(len(events)); !ok {
			h.rateLimited(w, lm, wait)
			return
		}
	}
	msgs := make([]*nats.Msg, len(events))
	ids := make([]string, len(events))
	for i := range events {
		msgs[i], ids[i] = h.message(&events[i], r.Header.Get(event.HeaderTraceParent))
	}
	results, perr := h.publish(r.Context(), msgs, ids)
	h.answer(w, lm, start, ids, results, perr, http.StatusAccepted)
}

func (h *Handler) rateLimited(w http.ResponseWriter, lm *labelMetrics, wait time.Duration) {
	lm.requests[OutcomeRateLimited].Inc()
	w.Header().Set("Retry-After", retryAfter(wait))
	writeError(w, http.StatusTooManyRequests, "rate limit of this token exceeded")
}

// answer writes 202/200 when every event was stored, else 503 with
// Retry-After and which were stored, and counts the outcome.
func (h *Handler) answer(w http.ResponseWriter, lm *labelMetrics, start time.Time, ids []string, results []Result, perr error, okStatus int) {
	dups, lost := 0, 0
	for _, res := range results {
		switch {
		case !res.Stored:
			lost++
		case res.Duplicate:
			dups++
		}
	}
	// One Add per outcome and request, not one per event.
	for _, c := range [...]struct {
		outcome string
		n       int
	}{{OutcomeUnavailable, lost}, {OutcomeDuplicate, dups}, {OutcomeAccepted, len(results) - lost - dups}} {
		if c.n > 0 {
			lm.events[c.outcome].Add(float64(c.n))
		}
	}
	if perr != nil {
		lm.requests[OutcomeUnavailable].Inc()
		h.log.Warn("ingest: publish failed", "name", lm.name, "events", len(ids), "err", perr)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, Problem{Error: "JetStream did not store every event; resend the request (ids de-duplicate)", Results: results})
		return
	}
	lm.latency.Observe(time.Since(start).Seconds())
	if dups == len(ids) {
		lm.requests[OutcomeDuplicate].Inc()
	} else {
		lm.requests[OutcomeAccepted].Inc()
	}
	writeAccepted(w, okStatus, ids, results)
}

// maxDepth bounds the nesting of a request: an event's data may nest
// jsonlimit.MaxDepth deep inside the array and the event around it.
const maxDepth = jsonlimit.MaxDepth + 2

// decodeEvents reads one event or an array of events, naming the index
// and field of the first problem. An array is decoded one event at a
// time and refused as soon as it passes config.MaxIngestBatch, so a body
// of many tiny elements never becomes a slice of them.
func decodeEvents(body []byte) ([]Event, *fieldError) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &fieldError{status: http.StatusBadRequest, index: -1, msg: "empty body: send one event or an array of events"}
	}
	dec, err := jsonlimit.NewDecoder(trimmed, maxDepth)
	if err != nil {
		return nil, &fieldError{status: http.StatusBadRequest, index: -1, msg: fmt.Sprintf("invalid JSON: %v (an event's data may nest %d levels)", err, jsonlimit.MaxDepth)}
	}
	dec.DisallowUnknownFields()
	if trimmed[0] != '[' {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return nil, jsonProblem(-1, err)
		}
		if err := trailing(dec); err != nil {
			return nil, err
		}
		return []Event{e}, nil
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonProblem(-1, err)
	}
	events := make([]Event, 0, 16)
	for dec.More() {
		if len(events) == config.MaxIngestBatch {
			return nil, &fieldError{status: http.StatusBadRequest, index: len(events), msg: fmt.Sprintf("more than %d events in one request", config.MaxIngestBatch)}
		}
		var e Event
		if err := dec.Decode(&e); err != nil {
			return nil, jsonProblem(len(events), err)
		}
		events = append(events, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonProblem(-1, err)
	}
	if err := trailing(dec); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, &fieldError{status: http.StatusBadRequest, index: -1, msg: "empty array: nothing to publish"}
	}
	return events, nil
}

func trailing(dec *json.Decoder) *fieldError {
	if jsonlimit.End(dec) != nil {
		return &fieldError{status: http.StatusBadRequest, index: -1, msg: "invalid JSON: data after the end of the value"}
	}
	return nil
}

// jsonProblem names the field a decoding error is about when it can.
func jsonProblem(index int, err error) *fieldError {
	fe := &fieldError{status: http.StatusBadRequest, index: index, msg: "invalid JSON: " + err.Error()}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		fe.field = te.Field
		fe.msg = fmt.Sprintf("%s: must be a JSON %s, got %s", te.Field, te.Type.Kind(), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fe.field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		fe.msg = fmt.Sprintf("unknown field %q (fields: id, type, source, subject, time, tenant, data, data_base64, datacontenttype)", fe.field)
	}
	return fe
}

// checkEvents validates every event before any is published; tenant is
// the token's tenant ("" when the token is not bound to one).
func checkEvents(events []Event, tenant string) *fieldError {
	bad := func(i int, field, format string, args ...any) *fieldError {
		return &fieldError{status: http.StatusBadRequest, index: i, field: field, msg: fmt.Sprintf("event %d: %s: ", i, field) + fmt.Sprintf(format, args...)}
	}
	for i := range events {
		e := &events[i]
		if e.Type == "" {
			return bad(i, "type", "missing")
		}
		if err := validType(e.Type); err != nil {
			return bad(i, "type", "%q: %v", e.Type, err)
		}
		switch {
		case tenant != "" && e.Tenant == "":
			e.Tenant = tenant
		case tenant != "" && e.Tenant != tenant:
			return &fieldError{status: http.StatusForbidden, index: i, field: "tenant", msg: fmt.Sprintf("event %d: tenant: this token may publish only for its own tenant", i)}
		case e.Tenant != "":
			if err := subject.ValidTenant(e.Tenant); err != nil {
				return bad(i, "tenant", "%v", err)
			}
		}
		for _, f := range []struct{ name, v string }{{"id", e.ID}, {"source", e.Source}, {"subject", e.Subject}, {"datacontenttype", e.ContentType}} {
			if err := validHeaderValue(f.v); err != nil {
				return bad(i, f.name, "%v", err)
			}
		}
		if e.Time != "" {
			if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
				return bad(i, "time", "%q is not RFC 3339", e.Time)
			}
		}
		if len(e.Data) > 0 && e.DataBase64 != "" {
			return bad(i, "data_base64", "give data or data_base64, not both")
		}
		if e.DataBase64 != "" {
			b, err := base64.StdEncoding.DecodeString(e.DataBase64)
			if err != nil {
				return bad(i, "data_base64", "not standard base64: %v", err)
			}
			e.Data, e.DataBase64 = b, ""
			if e.ContentType == "" {
				e.ContentType = "application/octet-stream"
			}
		} else if len(e.Data) > 0 && e.ContentType == "" {
			e.ContentType = "application/json"
		}
	}
	return nil
}

// validType checks that a type is a subject suffix: dot-separated
// non-empty tokens, no wildcards, no white space or control characters
// (nats-server's rule for a literal subject), in one pass.
func validType(t string) error {
	if len(t) > 255 {
		return errors.New("longer than 255 characters")
	}
	prev := byte('.')
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '.' && prev == '.':
			return errors.New("empty token (leading, trailing or double dot)")
		case c == '*' || c == '>':
			return errors.New("wildcards (* and >) are for filters, not types")
		case c <= ' ' || c == 0x7f:
			return errors.New("white space and control characters are not allowed")
		}
		prev = t[i]
	}
	if prev == '.' {
		return errors.New("empty token (leading, trailing or double dot)")
	}
	return nil
}

// validHeaderValue refuses what cannot travel in a NATS header.
func validHeaderValue(v string) error {
	if len(v) > 1024 {
		return errors.New("longer than 1024 bytes")
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return errors.New("control characters are not allowed")
		}
	}
	return nil
}

// Scope prefixes of Nats-Msg-Id. Tenants and source names are single
// tokens of letters, digits, - and _, so "/" ends them unambiguously.
const (
	scopeAPI    = "api/"
	scopeSource = "src/"
)

// message builds the NATS message of a checked event and returns it with
// the event's id (the producer's, or a fresh one).
func (h *Handler) message(e *Event, traceparent string) (*nats.Msg, string) {
	id := e.ID
	if id == "" {
		id = h.newID()
	}
	scope := scopeAPI + e.Tenant + "/"
	hdr := nats.Header{
		event.HeaderMsgID:   {scope + id},
		event.HeaderIDScope: {scope},
	}
	if e.Source != "" {
		hdr[event.HeaderSource] = []string{e.Source}
	}
	if e.Subject != "" {
		hdr[event.HeaderSubject] = []string{e.Subject}
	}
	if e.Time != "" {
		hdr[event.HeaderTime] = []string{e.Time}
	}
	if e.ContentType != "" {
		hdr[event.HeaderContentType] = []string{e.ContentType}
	}
	if traceparent != "" && validHeaderValue(traceparent) == nil {
		hdr[event.HeaderTraceParent] = []string{traceparent}
	}
	return &nats.Msg{Subject: subject.TenantEvent(e.Tenant, e.Type), Header: hdr, Data: e.Data}, id
}
