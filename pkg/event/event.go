// Package event defines the Event that Switchyard delivers and its mapping to
// and from NATS messages. It depends on the standard library only, so
// producers and receivers can import it without pulling in the gateway.
package event

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"
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

	// HeaderIDScope is the prefix the ingest API put before the producer's
	// id in Nats-Msg-Id, so that JetStream de-duplicates per tenant and
	// source; FromMessage strips it and receivers see the producer's id.
	// Trusting it on any stream is safe: it can only shorten the
	// Nats-Msg-Id, which a NATS producer chooses anyway.
	HeaderIDScope = "Switchyard-Id-Scope"
)

// TenantsPrefix starts the subjects of tenant-scoped events:
// tenants.<tenant>.<type>. Unscoped events are on the prefix FromMessage is
// given ("events.").
const TenantsPrefix = "tenants."

// RedriveStream is the stream Switchyard writes redriven dead letters to
// (bus.RedriveStream is this name). Only messages read from it carry
// HeaderEventID and HeaderOrigSubject that Switchyard wrote itself; on any
// other stream a producer could have set them, so they are ignored.
const RedriveStream = "SWITCHYARD_REDRIVE"

// DeliveriesStream is the stream of shared delivery's records
// (bus.DeliveriesStream is this name): Switchyard writes every message in
// it, so, as on RedriveStream, its identity headers are trusted.
const DeliveriesStream = "SWITCHYARD_DELIVERIES"

// Trusted says whether Switchyard wrote every message of stream, so that
// HeaderEventID and HeaderOrigSubject on it are its own.
func Trusted(stream string) bool { return stream == RedriveStream || stream == DeliveriesStream }

// Event is one thing that happened, as a sink sees it.
type Event struct {
	ID   string
	Type string
	// Tenant is the tenant the event was published for
	// (tenants.<tenant>.<type>), "" for an unscoped event.
	Tenant      string
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
	if !Trusted(m.Stream) {
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
	tenant, typ, ok := SplitSubject(subject, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: subject %q is neither %q nor %q followed by a type", ErrMalformed, subject, prefix, TenantsPrefix+"<tenant>.")
	}
	e := &Event{
		ID:          get(HeaderEventID),
		Type:        typ,
		Tenant:      tenant,
		Source:      get(HeaderSource),
		Subject:     get(HeaderSubject),
		ContentType: get(HeaderContentType),
		TraceParent: get(HeaderTraceParent),
		Data:        m.Data,
		Headers:     header,
		Time:        m.Published.UTC(),
	}
	if e.ID == "" {
		e.ID = unscoped(get(HeaderMsgID), get(HeaderIDScope))
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

// SplitSubject reads an event subject: prefix+type (no tenant) or
// tenants.<tenant>.<type>.
func SplitSubject(subject, prefix string) (tenant, typ string, ok bool) {
	if typ, ok = strings.CutPrefix(subject, prefix); ok && typ != "" {
		return "", typ, true
	}
	rest, ok := strings.CutPrefix(subject, TenantsPrefix)
	if !ok {
		return "", "", false
	}
	tenant, typ, ok = strings.Cut(rest, ".")
	if !ok || tenant == "" || typ == "" {
		return "", "", false
	}
	return tenant, typ, true
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

// unscoped is a Nats-Msg-Id without its scope prefix; an id that does not
// start with the scope, or would be empty without it, is kept whole.
func unscoped(id, scope string) string {
	if rest, ok := strings.CutPrefix(id, scope); ok && scope != "" && rest != "" {
		return rest
	}
	return id
}

// IDOf is the id FromMessage gives a message of an untrusted stream (the
// events stream), without parsing the rest of it: the producer's
// Nats-Msg-Id less its ingest scope, or one derived from the stream
// position. Shared delivery writes it into each record it hands on.
func IDOf(header map[string][]string, stream string, seq uint64) string {
	first := func(k string) string {
		if v := header[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if id := unscoped(first(HeaderMsgID), first(HeaderIDScope)); id != "" {
		return id
	}
	return DerivedID(stream, seq)
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
	Tenant       string          `json:"tenant,omitempty"`
	Source       string          `json:"source,omitempty"`
	Subject      string          `json:"subject,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	DataBase64   []byte          `json:"data_base64,omitempty"`
	DataEncoding string          `json:"data_encoding,omitempty"`
}

// MarshalEnvelope renders the default webhook body. JSON data is spliced
// in byte for byte: encoding/json would compact it, and a receiver that
// hashes or compares the data should see what the producer published. The
// envelope is written by hand (the same bytes encoding/json writes for
// Envelope with HTML escaping off): it is built once per delivery attempt,
// and reflection cost more than the rest of the envelope.
func (e *Event) MarshalEnvelope() ([]byte, error) {
	if y := e.Time.Year(); y < 0 || y >= 10000 {
		return nil, fmt.Errorf("event: time %s is outside the years JSON can carry", e.Time)
	}
	raw := len(e.Data) > 0 && validJSON(e.Data)
	n := 160 + len(e.ID) + len(e.Type) + len(e.Tenant) + len(e.Source) + len(e.Subject) // the keys, the time and quotes
	if raw {
		n += len(e.Data)
	} else {
		n += base64.StdEncoding.EncodedLen(len(e.Data))
	}
	out := make([]byte, 0, n)
	out = append(out, `{"id":`...)
	out = appendJSONString(out, e.ID)
	out = append(out, `,"type":`...)
	out = appendJSONString(out, e.Type)
	out = append(out, `,"timestamp":"`...)
	out = e.Time.AppendFormat(out, time.RFC3339Nano)
	out = append(out, '"')
	if e.Tenant != "" {
		out = append(out, `,"tenant":`...)
		out = appendJSONString(out, e.Tenant)
	}
	if e.Source != "" {
		out = append(out, `,"source":`...)
		out = appendJSONString(out, e.Source)
	}
	if e.Subject != "" {
		out = append(out, `,"subject":`...)
		out = appendJSONString(out, e.Subject)
	}
	switch {
	case len(e.Data) == 0:
		out = append(out, `,"data":null`...)
	case raw:
		out = append(append(out, `,"data":`...), e.Data...)
	default:
		out = append(out, `,"data_base64":"`...)
		out = base64.StdEncoding.AppendEncode(out, e.Data)
		out = append(out, `","data_encoding":"base64"`...)
	}
	return append(out, '}'), nil
}

// validJSON is json.Valid, faster: gjson's validator (about 4× quicker
// on a 1 KiB body) where it must agree with encoding/json, which is every
// document shorter than encoding/json's nesting limit of 10,000 (it cannot
// nest deeper than it is long; FuzzValidAgrees checks the agreement).
// Longer ones go to encoding/json, which also refuses nesting past it.
func validJSON(b []byte) bool {
	if len(b) <= maxNesting {
		return gjson.ValidBytes(b)
	}
	return json.Valid(b)
}

const maxNesting = 10000

// AppendJSONString appends s to out as a JSON string, as encoding/json
// writes it with HTML escaping off; for hand-written encoders on the
// delivery path.
func AppendJSONString(out []byte, s string) []byte { return appendJSONString(out, s) }

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping off: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendJSONString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			out = append(out, s[start:i]...)
			switch b {
			case '"', '\\':
				out = append(out, '\\', b)
			case '\b':
				out = append(out, '\\', 'b')
			case '\f':
				out = append(out, '\\', 'f')
			case '\n':
				out = append(out, '\\', 'n')
			case '\r':
				out = append(out, '\\', 'r')
			case '\t':
				out = append(out, '\\', 't')
			default:
				out = append(out, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, s[start:i]...)
			out = append(out, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			out = append(out, s[start:i]...)
			out = append(out, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	out = append(out, s[start:]...)
	return append(out, '"')
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
	AttrTenant      = "tenant"
	AttrSource      = "source"
	AttrTime        = "time"
	AttrSubject     = "subject"
	AttrContentType = "content-type"
	AttrTraceParent = "traceparent"
)

// Attributes returns the event's metadata as message attributes; empty
// fields are left out.
func (e *Event) Attributes() map[string]string {
	// Once per event and sink on the Pub/Sub and gocloud paths: sized
	// exactly, with no map of the optional fields built to range over.
	optional := [...]struct{ k, v string }{
		{AttrTenant, e.Tenant}, {AttrSource, e.Source}, {AttrSubject, e.Subject},
		{AttrContentType, e.ContentType}, {AttrTraceParent, e.TraceParent},
	}
	n := 3
	for _, o := range optional {
		if o.v != "" {
			n++
		}
	}
	a := make(map[string]string, n)
	a[AttrID], a[AttrType], a[AttrTime] = e.ID, e.Type, e.Time.UTC().Format(time.RFC3339Nano)
	for _, o := range optional {
		if o.v != "" {
			a[o.k] = o.v
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
