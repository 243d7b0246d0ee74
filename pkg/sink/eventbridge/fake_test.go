package eventbridge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// fakeEventBridge speaks PutEvents as the AWS SDK does (JSON 1.1 over
// HTTP, X-Amz-Target AWSEvents.PutEvents) and answers per-entry failures
// and throttling on demand, which moto cannot.
type fakeEventBridge struct {
	srv      *httptest.Server
	mu       sync.Mutex
	entries  []fakeEntry
	calls    [][]string // ids per PutEvents call
	faults   map[string]string
	once     map[string]string // fail the next attempt only
	attempts map[string]int
}

type fakeEntry struct {
	Source, DetailType, Detail, EventBusName, TraceHeader string
	Time                                                  float64
	Resources                                             []string
}

func newFake(t *testing.T) *fakeEventBridge {
	f := &fakeEventBridge{faults: map[string]string{}, once: map[string]string{}, attempts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEventBridge) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"__type":"UnrecognizedClientException","message":"bad request"}`)
		return
	}
	var req struct{ Entries []fakeEntry }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Entries) == 0 || len(req.Entries) > 10 {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"__type":"ValidationException","message":"%d entries"}`, len(req.Entries))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
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
		var env event.Envelope
		_ = json.Unmarshal([]byte(e.Detail), &env)
		ids = append(ids, env.ID)
		f.attempts[env.ID]++
		code := f.faults[env.ID]
		if c, ok := f.once[env.ID]; ok {
			code = c
			delete(f.once, env.ID)
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: code, ErrorMessage: "injected by the test"})
			continue
		}
		f.entries = append(f.entries, e)
		out.Entries = append(out.Entries, result{EventId: fmt.Sprintf("eb-%d-%d", len(f.entries), i)})
	}
	f.calls = append(f.calls, ids)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func (f *fakeEventBridge) received() []sinktest.Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sinktest.Received
	for _, e := range f.entries {
		var env event.Envelope
		if json.Unmarshal([]byte(e.Detail), &env) != nil {
			continue
		}
		out = append(out, sinktest.Received{ID: env.ID, Type: e.DetailType, Time: env.Timestamp, Data: env.DecodeData()})
	}
	return out
}
