// Package ingest is Switchyard's way in over HTTP: the publish API
// (POST /v1/events, bearer tokens, optionally bound to a tenant) and
// inbound provider webhooks (POST /ingest/<source>, verified and identified
// by the source's provider from the pkg/ingest/provider registry; this
// package imports pkg/ingest/providers, the built-in Stripe, GitHub,
// Shopify, Standard Webhooks and generic HMAC ones). Both put
// events into the events stream and answer only after JetStream has
// stored them (a PubAck), so a 2xx means what a NATS publish's ack means.
//
// The hot path takes no lock of its own: tokens and sources are read-only
// maps built once, rate limits are one atomic word per token, and metrics
// are counters resolved per token and source up front.
package ingest

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Paths the handler serves.
const (
	PathEvents       = "/v1/events"
	PathSourcePrefix = "/ingest/"
)

// DefaultPublishTimeout is how long a request waits for its PubAcks
// before it answers 503.
const DefaultPublishTimeout = 10 * time.Second

// Options configure a Handler.
type Options struct {
	// JS publishes. Give the handler a JetStream context of its own, so
	// its async publish window is not shared with other publishers.
	JS jetstream.JetStream
	// Stream, when set, is the stream every publish must land in: a
	// PubAck from another stream is treated as a failure. (Checked on the
	// PubAck rather than with Nats-Expected-Stream, which costs the server
	// a header check per message.)
	Stream  string
	Tokens  []config.IngestToken
	Sources []config.Source
	// MaxBody bounds a request body; 0: config.DefaultIngestMaxBody.
	MaxBody int64
	// Registerer takes the ingest metrics; nil: not registered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// PublishTimeout bounds the wait for PubAcks; 0: DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Now is the clock signatures' timestamps are judged by; nil: time.Now.
	Now func() time.Time
}

// Handler serves the ingest API. It is safe for concurrent use.
type Handler struct {
	js       jetstream.JetStream
	stream   string
	tokens   tokenSet
	sources  map[string]*source
	maxBody  int64
	log      *slog.Logger
	timeout  time.Duration
	now      func() time.Time
	metrics  *Metrics
	unknown  *labelMetrics // requests with no valid token
	idPrefix string
	idSeq    atomic.Uint64
}

// New builds a Handler; the config must have been validated.
func New(o Options) (*Handler, error) {
	if o.JS == nil {
		return nil, errors.New("ingest: no JetStream")
	}
	h := &Handler{js: o.JS, stream: o.Stream, maxBody: o.MaxBody, log: o.Logger, timeout: o.PublishTimeout, now: o.Now, metrics: newMetrics()}
	if h.maxBody <= 0 {
		h.maxBody = config.DefaultIngestMaxBody
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.timeout <= 0 {
		h.timeout = DefaultPublishTimeout
	}
	if h.now == nil {
		h.now = time.Now
	}
	if o.Registerer != nil {
		if err := h.metrics.register(o.Registerer); err != nil {
			return nil, fmt.Errorf("ingest: metrics: %w", err)
		}
	}
	var err error
	if h.tokens, err = newTokenSet(o.Tokens, h.metrics); err != nil {
		return nil, err
	}
	h.unknown = h.metrics.labels(kindToken, "unknown")
	h.sources = make(map[string]*source, len(o.Sources))
	for _, sc := range o.Sources {
		s, err := newSource(sc, h.metrics)
		if err != nil {
			return nil, err
		}
		h.sources[sc.Name] = s
	}
	// Generated ids: a random prefix per handler and a counter, so they
	// are unique across replicas without a lock per id.
	var seed [10]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("ingest: id seed: %w", err)
	}
	h.idPrefix = "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed[:])) + "_"
	return h, nil
}

// ServeHTTP routes by path without a mux (whose lookup takes a lock).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == PathEvents:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		h.serveEvents(w, r)
	case strings.HasPrefix(r.URL.Path, PathSourcePrefix):
		s, ok := h.sources[strings.TrimPrefix(r.URL.Path, PathSourcePrefix)]
		if !ok {
			writeError(w, http.StatusNotFound, "no such source")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		h.serveSource(w, r, s)
	default:
		writeError(w, http.StatusNotFound, "not found: POST "+PathEvents+" or "+PathSourcePrefix+"<source>")
	}
}

// readCounted reads a request's body within ingest.max_body and counts its
// bytes; a body too large (413) or unreadable (400) is answered and
// counted here, and ok is false. showErr puts the read error in the
// answer (the publish API); provider webhooks get no detail.
func (h *Handler) readCounted(w http.ResponseWriter, r *http.Request, lm *labelMetrics, showErr bool) (body []byte, ok bool) {
	body, tooLarge, err := readBody(w, r, h.maxBody)
	lm.bytes.Add(float64(len(body)))
	switch {
	case tooLarge:
		lm.requests[OutcomeTooLarge].Inc()
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than ingest.max_body (%d bytes)", h.maxBody))
		return nil, false
	case err != nil:
		lm.requests[OutcomeInvalid].Inc()
		msg := "reading the body failed"
		if showErr {
			msg = "reading the body: " + err.Error()
		}
		writeError(w, http.StatusBadRequest, msg)
		return nil, false
	}
	return body, true
}

// readBody reads at most max bytes; tooLarge says the body was longer.
func readBody(w http.ResponseWriter, r *http.Request, max int64) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > max {
		return nil, true, nil
	}
	rd := http.MaxBytesReader(w, r.Body, max)
	n := r.ContentLength
	if n < 0 || n > max {
		n = 512
	}
	buf := make([]byte, 0, n+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, true, nil
			}
			return nil, false, err
		}
	}
}

// newID is a fresh event id.
func (h *Handler) newID() string {
	return h.idPrefix + strconv.FormatUint(h.idSeq.Add(1), 36)
}

// retryAfter formats a Retry-After header: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
