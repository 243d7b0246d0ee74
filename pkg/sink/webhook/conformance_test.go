package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
	"github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

// harness is an HTTPS receiver that keeps what it accepted and answers
// with the faults the suite asks for.
type harness struct {
	url, ca  string
	mu       sync.Mutex
	got      []sinktest.Received
	faults   map[string]sinktest.Fault
	attempts map[string]int
}

func newHarness(t *testing.T) *harness {
	h := &harness{faults: map[string]sinktest.Fault{}, attempts: map[string]int{}}
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		h.mu.Lock()
		defer h.mu.Unlock()
		h.attempts[id]++
		if f, ok := h.faults[id]; ok {
			switch f {
			case sinktest.FaultRetryable:
				w.WriteHeader(500)
			case sinktest.FaultRateLimited:
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(429)
			case sinktest.FaultPermanent:
				w.WriteHeader(410)
			}
			return
		}
		var env event.Envelope
		if err := json.Unmarshal(body, &env); err != nil {
			w.WriteHeader(400)
			return
		}
		h.got = append(h.got, sinktest.Received{ID: env.ID, Type: env.Type, Time: env.Timestamp, Data: env.DecodeData()})
	})
	h.url, h.ca = srv.URL, ca
	return h
}

func (h *harness) Open(t *testing.T) sink.Driver {
	return newDriver(t, h.url, h.ca, func(c *webhook.Config) {})
}

func (h *harness) Received(*testing.T) []sinktest.Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sinktest.Received(nil), h.got...)
}

func (h *harness) Fail(id string, f sinktest.Fault) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults[id] = f
	return true
}

func (h *harness) Attempts(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[id]
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, newHarness(t), sinktest.Capabilities{MaxBatch: 1, PartialFailure: true})
}
