package testutil

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// WebhookSecret is the signing secret of the sinks Receiver.SinkYAML
// writes; the receiver judges every signature against it.
const WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// Hit is one request a Receiver saw.
type Hit struct {
	Sink  string // the path without its slash: the sink's name
	ID    string // the webhook-id header
	At    time.Time
	Valid bool // the signature verifies with WebhookSecret
	Body  []byte
	Trace string // the traceparent header
}

// Receiver is a real HTTPS webhook endpoint on loopback; each sink posts
// to /<sink>. It keeps every request, judging its signature with the
// reference Standard Webhooks library, and answers as SetAnswer says
// (200 by default). It stops at cleanup.
type Receiver struct {
	Server *httptest.Server
	CAFile string // its certificate (PEM), for a sink's tls.ca_file

	mu     sync.Mutex
	hits   []Hit
	counts map[string]int // sink/id → requests
	answer func(w http.ResponseWriter, sink, id string, n int)
	delays map[string]time.Duration // sink → how long it takes to answer; "" for every sink
}

// NewReceiver starts a Receiver for the test.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	rc := &Receiver{counts: map[string]int{}, delays: map[string]time.Duration{}}
	wh, err := standardwebhooks.NewWebhook(WebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	rc.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sink := strings.TrimPrefix(r.URL.Path, "/")
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.counts[sink+"/"+id]++
		n := rc.counts[sink+"/"+id]
		rc.hits = append(rc.hits, Hit{Sink: sink, ID: id, At: time.Now(), Valid: wh.Verify(body, r.Header) == nil, Body: body, Trace: r.Header.Get("traceparent")})
		answer := rc.answer
		delay, ok := rc.delays[sink]
		if !ok {
			delay = rc.delays[""]
		}
		rc.mu.Unlock()
		if delay > 0 {
			// A slow endpoint, not a pause of the test: a caller that
			// gives up (its timeout, a gateway's stop) ends the wait, so
			// no handler outlives its request and Close does not wait.
			// Such a request gets no answer at all, not an empty 200.
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				panic(http.ErrAbortHandler)
			}
		}
		if answer != nil {
			answer(w, sink, id, n)
		}
	}))
	t.Cleanup(rc.Server.Close)
	rc.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(rc.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.Server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

// SetAnswer decides the answer to each later request: n counts the
// requests (1-based) for that sink and event id. Nothing written is 200.
func (rc *Receiver) SetAnswer(f func(w http.ResponseWriter, sink, id string, n int)) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

// SetDelay makes the later requests for sink (every sink when sink is
// empty, unless the sink has its own) wait d before their answer, as a
// slow endpoint does; 0 answers at once. A request whose caller gives up
// first gets no answer: its connection is closed.
func (rc *Receiver) SetDelay(sink string, d time.Duration) {
	rc.mu.Lock()
	rc.delays[sink] = d
	rc.mu.Unlock()
}

// Hits returns the requests for one sink in arrival order; every request
// when sink is empty.
func (rc *Receiver) Hits(sink string) []Hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Hit
	for _, h := range rc.hits {
		if sink == "" || h.Sink == sink {
			out = append(out, h)
		}
	}
	return out
}

// SinkYAML is one item of a sinks list: a webhook sink named name for the
// events (YAML) posting to this receiver, with extra (indented sink keys)
// before its webhook block.
func (rc *Receiver) SinkYAML(name, events string, concurrency int, extra string) string {
	return fmt.Sprintf(`
  - name: %s
    events: %s
    concurrency: %d
%s    webhook:
      url: %s/%s
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %s}
`, name, events, concurrency, extra, rc.Server.URL, name, WebhookSecret, rc.CAFile)
}
