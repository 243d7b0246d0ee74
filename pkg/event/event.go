// Package event defines the Event that Switchyard delivers and its mapping to
// and from NATS messages. It depends on the standard library only, so
// producers and receivers can import it without pulling in the gateway.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names a producer may set on a NATS message. They follow the
// CloudEvents NATS binding where one exists.
const (
	HeaderMsgID       = "Nats-Msg-Id"
	HeaderSource      = "ce-source"
	HeaderTime        = "ce-time"
	HeaderSubject     = "ce-subject"
	HeaderContentType = "Content-Type"
	HeaderTraceParent = "traceparent"

	// HeaderEventID and HeaderOrigSubject carry the identity of an event that
	// Switchyard itself republished (a redrive), because there Nats-Msg-Id is
	// spent on JetStream's own de-duplication of the republish.
	HeaderEventID     = "Switchyard-Event-Id"
	HeaderOrigSubject = "Switchyard-Subject"
)

// RedriveStream is the stream Switchyard writes redriven dead letters to
// (bus.RedriveStream is this name). Only messages read from it carry
// HeaderEventID and HeaderOrigSubject that Switchyard wrote itself; on any
// other stream a producer could have set them, so they are ignored.
const RedriveStream = "SWITCHYARD_REDRIVE"

// Event is one thing that happened, as a sink sees it.
type Event struct {
	ID          string
	Type        string
	Source      string
	Subject     string
	Time        time.Time
	ContentType string
	TraceParent string
	Data        []byte
	// Headers holds every header of the original message, so a dead letter
	// can be republished without loss.
	Headers map[string][]string
}

// ErrMalformed marks a message that can never become a delivery. Such
// messages are dead-lettered, not retried.
var ErrMalformed = errors.New("malformed event")

// Message is the part of a NATS message that the mapping reads. It matches
// both nats.Msg and jetstream.Msg after a small adapter, and keeps this
// package free of the NATS client.
type Message struct {
	Subject   string
	Header    map[string][]string
	Data      []byte
	Stream    string
	Sequence  uint64
	Published time.Time
}

// FromMessage maps a stream message to an Event. prefix is the subject
// prefix that carries the type ("events." for "events.order.completed").
func FromMessage(m Message, prefix string) (*Event, error) {
	get := func(k string) string {
		if v := m.Header[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	header := m.Header
	if m.Stream != RedriveStream {
		// Not written by Switchyard: a producer must not be able to choose
		// the type or id its event is delivered under (that would slip past
		// subject-based permissions), so these headers are dropped.
		header = untrusted(m.Header)
		get = func(k string) string {
			if v := header[k]; len(v) > 0 {
				return v[0]
			}
			return ""
		}
	}
	subject := m.Subject
	if s := get(HeaderOrigSubject); s != "" {
		subject = s
	}
	typ, ok := strings.CutPrefix(subject, prefix)
	if !ok || typ == "" {
		return nil, fmt.Errorf("%w: subject %q does not start with %q followed by a type", ErrMalformed, subject, prefix)
	}
	e := &Event{
		ID:          get(HeaderEventID),
		Type:        typ,
		Source:      get(HeaderSource),
		Subject:     get(HeaderSubject),
		ContentType: get(HeaderContentType),
		TraceParent: get(HeaderTraceParent),
		Data:        m.Data,
		Headers:     header,
		Time:        m.Published.UTC(),
	}
	if e.ID == "" {
		e.ID = get(HeaderMsgID)
	}
	if e.ID == "" {
		// Derived from the stream position so that every redelivery of the
		// same message carries the same id.
		e.ID = DerivedID(m.Stream, m.Sequence)
	}
	if t := get(HeaderTime); t != "" {
		parsed, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, fmt.Errorf("%w: header %s=%q is not RFC 3339: %v", ErrMalformed, HeaderTime, t, err)
		}
		e.Time = parsed.UTC()
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return e, nil
}

// untrusted returns h without the identity headers only Switchyard may
// set; h itself is left as it is (it belongs to the message).
func untrusted(h map[string][]string) map[string][]string {
	_, id := h[HeaderEventID]
	_, subj := h[HeaderOrigSubject]
	if !id && !subj {
		return h
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if k != HeaderEventID && k != HeaderOrigSubject {
			out[k] = v
		}
	}
	return out
}

// DerivedID is the id of an event whose producer gave none.
func DerivedID(stream string, seq uint64) string {
	return "evt_" + strings.ToLower(stream) + "_" + strconv.FormatUint(seq, 10)
}

// PublishHeaders builds the NATS headers a producer sets for an event.
func (e *Event) PublishHeaders() map[string][]string {
	h := map[string][]string{}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	set(HeaderMsgID, e.ID)
	set(HeaderSource, e.Source)
	set(HeaderSubject, e.Subject)
	set(HeaderContentType, e.ContentType)
	set(HeaderTraceParent, e.TraceParent)
	if !e.Time.IsZero() {
		set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	}
	return h
}

// Envelope is the JSON body a webhook receives by default. Data holds the
// producer's bytes as JSON when they are valid JSON; otherwise DataBase64
// holds them base64-encoded and DataEncoding says so.
type Envelope struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Timestamp    time.Time       `json:"timestamp"`
	Source       string          `json:"source,omitempty"`
	Subject      string          `json:"subject,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	DataBase64   []byte          `json:"data_base64,omitempty"`
	DataEncoding string          `json:"data_encoding,omitempty"`
}

// MarshalEnvelope renders the default webhook body. JSON data is spliced
// in byte for byte: encoding/json would compact it, and a receiver that
// hashes or compares the data should see what the producer published.
func (e *Event) MarshalEnvelope() ([]byte, error) {
	env := Envelope{ID: e.ID, Type: e.Type, Timestamp: e.Time, Source: e.Source, Subject: e.Subject}
	raw := len(e.Data) > 0 && json.Valid(e.Data)
	switch {
	case len(e.Data) == 0:
		env.Data = json.RawMessage("null")
	case !raw:
		env.DataBase64 = e.Data
		env.DataEncoding = "base64"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("}\n"))
	if raw {
		out = append(append(append(out, `,"data":`...), e.Data...), '}')
		return out, nil
	}
	return append(out, '}'), nil
}

// DecodeData returns the producer's bytes from an envelope.
func (env *Envelope) DecodeData() []byte {
	if env.DataEncoding == "base64" {
		return env.DataBase64
	}
	return env.Data
}

// Attribute names an event's metadata travels under on message buses
// (Pub/Sub attributes, gocloud metadata: SQS/SNS message attributes, Kafka
// and RabbitMQ headers). "time" is RFC 3339 with nanoseconds.
const (
	AttrID          = "id"
	AttrType        = "type"
	AttrSource      = "source"
	AttrTime        = "time"
	AttrSubject     = "subject"
	AttrContentType = "content-type"
	AttrTraceParent = "traceparent"
)

// Attributes returns the event's metadata as message attributes; empty
// fields are left out.
func (e *Event) Attributes() map[string]string {
	a := map[string]string{AttrID: e.ID, AttrType: e.Type, AttrTime: e.Time.UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{AttrSource: e.Source, AttrSubject: e.Subject, AttrContentType: e.ContentType, AttrTraceParent: e.TraceParent} {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

// MatchType reports whether an event type matches a filter in NATS
// wildcard syntax: "*" matches one token, ">" the rest.
func MatchType(filter, typ string) bool {
	ft, tt := strings.Split(filter, "."), strings.Split(typ, ".")
	for i, f := range ft {
		switch {
		case f == ">":
			return len(tt) > i
		case i >= len(tt):
			return false
		case f != "*" && f != tt[i]:
			return false
		}
	}
	return len(ft) == len(tt)
}
