// Package fakeeb is a protocol-faithful Amazon EventBridge PutEvents
// endpoint for tests, benchmarks and the demo: the AWS SDK reaches it
// through its own endpoint override, and it answers per-entry failures and
// throttling on demand, which moto cannot.
package fakeeb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Server speaks PutEvents as the AWS SDK does (JSON 1.1 over HTTP,
// X-Amz-Target AWSEvents.PutEvents, SigV4-signed).
type Server struct {
	srv *httptest.Server
	URL string

	Mu       sync.Mutex
	Entries  []Entry
	Calls    [][]string             // event ids per PutEvents call
	Faults   map[string]string      // event id → error code, every attempt
	Once     map[string]string      // event id → error code, next attempt only
	Attempts map[string]int         // event id → entries seen
	OnEntry  func(Entry, time.Time) // called for each accepted entry, under Mu
	// Script, when set, picks an error code for the n-th attempt (from 1)
	// of an event id; "" accepts it. It runs under Mu.
	Script func(id string, attempt int) string
	// ShortEntries, when above zero, cuts the response's Entries array to
	// that many results and leaves the entries beyond it unprocessed: a
	// malformed answer the driver must not take for success.
	ShortEntries int
}

// Entry is one PutEvents entry as the SDK sends it.
type Entry struct {
	Source, DetailType, Detail, EventBusName, TraceHeader string
	Time                                                  float64
	Resources                                             []string
}

// New starts a fake on a loopback port; Close stops it.
func New() *Server {
	f := &Server{Faults: map[string]string{}, Once: map[string]string{}, Attempts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f
}

// Close stops the server.
func (f *Server) Close() { f.srv.Close() }

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"__type":"UnrecognizedClientException","message":"bad request"}`)
		return
	}
	var req struct{ Entries []Entry }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Entries) == 0 || len(req.Entries) > 10 {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"__type":"ValidationException","message":"%d entries"}`, len(req.Entries))
		return
	}
	now := time.Now()
	f.Mu.Lock()
	defer f.Mu.Unlock()
	type result struct {
		EventId      string `json:",omitempty"`
		ErrorCode    string `json:",omitempty"`
		ErrorMessage string `json:",omitempty"`
	}
	var out struct {
		FailedEntryCount int
		Entries          []result
	}
	var ids []string
	for i, e := range req.Entries {
		if f.ShortEntries > 0 && i >= f.ShortEntries {
			break
		}
		var env event.Envelope
		_ = json.Unmarshal([]byte(e.Detail), &env)
		ids = append(ids, env.ID)
		f.Attempts[env.ID]++
		code := f.Faults[env.ID]
		if f.Script != nil {
			code = f.Script(env.ID, f.Attempts[env.ID])
		}
		if c, ok := f.Once[env.ID]; ok {
			code = c
			delete(f.Once, env.ID)
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: code, ErrorMessage: "injected by the test"})
			continue
		}
		f.Entries = append(f.Entries, e)
		if f.OnEntry != nil {
			f.OnEntry(e, now)
		}
		out.Entries = append(out.Entries, result{EventId: fmt.Sprintf("eb-%d-%d", len(f.Entries), i)})
	}
	f.Calls = append(f.Calls, ids)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// Received is one accepted entry decoded back to the event it carries.
type Received struct {
	ID, Type, DetailType string
	Time                 time.Time
	Data                 []byte
}

// Received decodes every accepted entry's Detail envelope.
func (f *Server) Received() []Received {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var out []Received
	for _, e := range f.Entries {
		var env event.Envelope
		if json.Unmarshal([]byte(e.Detail), &env) != nil {
			continue
		}
		out = append(out, Received{ID: env.ID, Type: env.Type, DetailType: e.DetailType, Time: env.Timestamp, Data: env.DecodeData()})
	}
	return out
}
