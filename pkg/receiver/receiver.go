// Package receiver is a webhook endpoint for developers: it verifies each
// delivery with pkg/signing, reports it, and can misbehave on purpose
// (fail a share of requests, answer slowly) to show retries at work.
package receiver

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

// Options configure a Receiver.
type Options struct {
	Secrets []string
	// FailRate is the share of requests answered 503 at random.
	FailRate float64
	// Delay is added before each answer.
	Delay time.Duration
	// Script, when set, picks the status for the n-th request of an event
	// id (n counts from 1); 0 means "answer normally". The demo uses it for
	// failures that are the same on every run.
	Script func(id string, n int) int
	// OnDelivery is called once per request, after it is answered.
	OnDelivery func(Delivery)
}

// Delivery is one request as the receiver judged it.
type Delivery struct {
	ID      string
	Type    string
	Attempt int // requests seen for this id, this one included
	Status  int // what the receiver answered
	Valid   bool
	Err     error         // why the signature was rejected
	Latency time.Duration // from the event's timestamp to now, when known
}

// Receiver is an http.Handler.
type Receiver struct {
	opts  Options
	keys  *signing.Keys
	mu    sync.Mutex
	count map[string]int
}

// New builds a receiver that trusts opts.Secrets.
func New(opts Options) (*Receiver, error) {
	keys, err := signing.NewKeys(opts.Secrets...)
	if err != nil {
		return nil, err
	}
	return &Receiver{opts: opts, keys: keys, count: map[string]int{}}, nil
}

// maxBody bounds what a request may send us.
const maxBody = 4 << 20

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	now := time.Now()
	d := Delivery{ID: r.Header.Get(signing.HeaderID)}
	d.Err = rc.keys.Verify(r.Header, body, now, signing.DefaultTolerance)
	d.Valid = d.Err == nil
	var env event.Envelope
	if json.Unmarshal(body, &env) == nil && env.Type != "" {
		d.Type = env.Type
		if !env.Timestamp.IsZero() {
			d.Latency = now.Sub(env.Timestamp)
		}
	}
	rc.mu.Lock()
	rc.count[d.ID]++
	d.Attempt = rc.count[d.ID]
	rc.mu.Unlock()

	if rc.opts.Delay > 0 {
		select {
		case <-time.After(rc.opts.Delay):
		case <-r.Context().Done():
		}
	}
	d.Status = rc.status(d)
	switch d.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(d.Status)
	if rc.opts.OnDelivery != nil {
		rc.opts.OnDelivery(d)
	}
}

func (rc *Receiver) status(d Delivery) int {
	switch {
	case !d.Valid:
		// A receiver must refuse what it cannot verify; 401 tells the
		// sender its secret is wrong.
		return http.StatusUnauthorized
	case rc.opts.Script != nil:
		if s := rc.opts.Script(d.ID, d.Attempt); s != 0 {
			return s
		}
	}
	if rc.opts.FailRate > 0 && rand.Float64() < rc.opts.FailRate {
		return http.StatusServiceUnavailable
	}
	return http.StatusNoContent
}

// Describe renders a delivery as one line for a terminal.
func (d Delivery) Describe() string {
	verdict := "valid"
	if !d.Valid {
		verdict = "INVALID (" + d.Err.Error() + ")"
	}
	line := time.Now().UTC().Format("15:04:05.000") + "  " + d.ID + "  " + d.Type + "  attempt " + strconv.Itoa(d.Attempt) + "  " + verdict + "  -> " + strconv.Itoa(d.Status)
	if d.Latency > 0 {
		line += "  latency " + d.Latency.Round(time.Millisecond).String()
	}
	return line
}
