package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// tlsServer starts an HTTPS receiver and writes its certificate as a CA
// file, the way an operator would point tls.ca_file at a private CA.
func tlsServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func newDriver(t *testing.T, url, ca string, mod func(*webhook.Config)) *webhook.Driver {
	t.Helper()
	cfg := webhook.Config{URL: url, Secrets: []string{secret}, Timeout: config.Duration{D: 2 * time.Second},
		TLS: config.TLS{CAFile: ca}, AllowPrivateNetworks: true, Body: "envelope"}
	if mod != nil {
		mod(&cfg)
	}
	d, err := webhook.New(cfg, webhook.Options{UserAgent: "switchyard/test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func testEvent(data []byte) *event.Event {
	return &event.Event{ID: "evt_1", Type: "order.completed", Time: time.Unix(1700000000, 0).UTC(), Data: data,
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
}

func TestDeliveryIsSignedAndComplete(t *testing.T) {
	var got struct {
		sync.Mutex
		h    http.Header
		body []byte
	}
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Lock()
		got.h, got.body = r.Header.Clone(), b
		got.Unlock()
	})
	d := newDriver(t, srv.URL, ca, func(c *webhook.Config) { c.Headers = map[string]string{"X-Api-Key": "k1"} })
	if err := d.Send(context.Background(), []*event.Event{testEvent([]byte(`{"id":1}`))}); err != nil {
		t.Fatal(err)
	}
	got.Lock()
	defer got.Unlock()
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(got.body, got.h); err != nil {
		t.Fatalf("reference library rejects the signature: %v", err)
	}
	want := `{"id":"evt_1","type":"order.completed","timestamp":"2023-11-14T22:13:20Z","data":{"id":1}}`
	if string(got.body) != want {
		t.Errorf("body\n got %s\nwant %s", got.body, want)
	}
	for k, v := range map[string]string{"webhook-id": "evt_1", "content-type": "application/json",
		"user-agent": "switchyard/test", "x-api-key": "k1", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		if g := got.h.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
}

func TestRawBodyIsByteExact(t *testing.T) {
	data := []byte{0xff, 0xfe, 0x00, 'x', 0x80} // not UTF-8, not JSON
	for _, mode := range []string{"raw", "envelope"} {
		t.Run(mode, func(t *testing.T) {
			var body []byte
			var mu sync.Mutex
			srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				body, _ = io.ReadAll(r.Body)
				mu.Unlock()
			})
			d := newDriver(t, srv.URL, ca, func(c *webhook.Config) { c.Body = mode })
			if err := d.Send(context.Background(), []*event.Event{testEvent(data)}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			got := body
			if mode == "envelope" {
				env := decodeEnvelope(t, body)
				if env.DataEncoding != "base64" {
					t.Errorf("data_encoding = %q, want base64", env.DataEncoding)
				}
				got = env.DecodeData()
			}
			if !bytes.Equal(got, data) {
				t.Errorf("data = %x, want %x", got, data)
			}
		})
	}
}

func decodeEnvelope(t *testing.T, b []byte) event.Envelope {
	t.Helper()
	var env event.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("envelope %s: %v", b, err)
	}
	return env
}

func TestFaultTable(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantClass  sink.Class
		wantAfter  time.Duration
	}{
		{"500", 500, "", sink.Retryable, 0},
		{"502", 502, "", sink.Retryable, 0},
		{"400 retried per the contract", 400, "", sink.Retryable, 0},
		{"404 retried per the contract", 404, "", sink.Retryable, 0},
		{"429 with Retry-After", 429, "7", sink.RateLimited, 7 * time.Second},
		{"503 with Retry-After", 503, "3", sink.RateLimited, 3 * time.Second},
		{"429 without Retry-After", 429, "", sink.Retryable, 0},
		{"410 gone", 410, "", sink.Permanent, 0},
		{"413 too large", 413, "", sink.Permanent, 0},
		{"302 not followed", 302, "", sink.Retryable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			var redirected atomic.Bool
			srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					redirected.Store(true)
					return
				}
				hits.Add(1)
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
			})
			d := newDriver(t, srv.URL, ca, nil)
			err := d.Send(context.Background(), []*event.Event{testEvent([]byte(`{}`))})
			c := sink.Classify(err)
			if err == nil || c.Class != tt.wantClass || c.Status != tt.status || c.RetryAfter != tt.wantAfter {
				t.Fatalf("Send = %v (class %v, status %d, after %s), want class %v after %s", err, c.Class, c.Status, c.RetryAfter, tt.wantClass, tt.wantAfter)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("one fault must be one attempt, receiver saw %d", n)
			}
			if redirected.Load() {
				t.Error("redirect was followed")
			}
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	d := newDriver(t, srv.URL, ca, func(c *webhook.Config) { c.Timeout.D = 200 * time.Millisecond })
	err := d.Send(context.Background(), []*event.Event{testEvent(nil)})
	if c := sink.Classify(err); c.Class != sink.Retryable {
		t.Fatalf("timeout: %v, want retryable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "no answer within the timeout of 200ms") || !strings.Contains(msg, `Post "https://127.0.0.1:`) {
		t.Errorf("timeout error %q: want the method, the endpoint and the timeout", msg)
	}
}

// The timeout also bounds reading the answer: a receiver that sends its
// status and then stalls in the body does not hold the worker.
func TestTimeoutBoundsTheAnswersBody(t *testing.T) {
	release := make(chan struct{})
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	d := newDriver(t, srv.URL, ca, func(c *webhook.Config) { c.Timeout.D = 300 * time.Millisecond })
	start := time.Now()
	_ = d.Send(context.Background(), []*event.Event{testEvent(nil)})
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("Send took %s with a timeout of 300ms", took)
	}
}

func TestCloseDuringSendCancelsPromptly(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	d := newDriver(t, srv.URL, ca, func(c *webhook.Config) { c.Timeout.D = 30 * time.Second })
	done := make(chan error)
	go func() { done <- d.Send(context.Background(), []*event.Event{testEvent(nil)}) }()
	<-arrived // the send is in flight
	start := time.Now()
	d.Close(context.Background())
	d.Close(context.Background()) // idempotent
	select {
	case err := <-done:
		if c := sink.Classify(err); c.Class != sink.Canceled {
			t.Errorf("Send after Close = %v, want canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after Close")
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Close took too long to cancel the send")
	}
}

func TestSSRFGuardRefusesLoopbackAtDialTime(t *testing.T) {
	var hits atomic.Int32
	srv, ca := tlsServer(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	for _, url := range []string{srv.URL, "https://localhost:" + srv.URL[len("https://127.0.0.1:"):]} {
		d := newDriver(t, url, ca, func(c *webhook.Config) { c.AllowPrivateNetworks = false })
		err := d.Send(context.Background(), []*event.Event{testEvent(nil)})
		var blocked *webhook.BlockedError
		if c := sink.Classify(err); c.Class != sink.Permanent || !errors.As(err, &blocked) {
			t.Errorf("%s: Send = %v, want a permanent SSRF refusal", url, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("receiver saw %d requests through the guard", hits.Load())
	}
}

// The guard's decision for ranges we must never connect to in a test.
func TestGuardDecisions(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true}, {"0.0.0.0", true},
		{"fd00::1", true}, {"fe80::1", true}, {"::ffff:10.0.0.1", true}, {"::ffff:127.0.0.1", true},
		{"172.32.0.1", false}, {"8.8.8.8", false}, {"2606:4700::1111", false},
	}
	for _, tt := range tests {
		err := webhook.CheckAddr(netip.MustParseAddr(tt.addr))
		if (err != nil) != tt.blocked {
			t.Errorf("CheckAddr(%s) = %v, want blocked=%v", tt.addr, err, tt.blocked)
		}
	}
}

// A hostname is judged by the address it resolves to, at dial time: the
// Control hook sees the resolved IP, never the name.
func TestGuardSeesResolvedAddress(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	control := func(network, address string, c syscall.RawConn) error {
		mu.Lock()
		seen = append(seen, address)
		mu.Unlock()
		return errors.New("refused by test")
	}
	d, err := webhook.New(webhook.Config{URL: "https://localhost:1/", Secrets: []string{secret}, Timeout: config.Duration{D: time.Second}, Body: "envelope"},
		webhook.Options{Control: control})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	_ = d.Send(context.Background(), []*event.Event{testEvent(nil)})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("control hook never called")
	}
	for _, a := range seen {
		if a != "127.0.0.1:1" && a != "[::1]:1" {
			t.Errorf("control saw %q, want a resolved loopback address", a)
		}
	}
}

func TestBatchNamesFailedIndexes(t *testing.T) {
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-id") == "bad" {
			w.WriteHeader(500)
		}
	})
	d := newDriver(t, srv.URL, ca, nil)
	batch := []*event.Event{testEvent(nil), testEvent(nil), testEvent(nil)}
	batch[1] = &event.Event{ID: "bad", Type: "x"}
	err := d.Send(context.Background(), batch)
	for i := range batch {
		if failed := sink.ErrorFor(err, i) != nil; failed != (i == 1) {
			t.Errorf("index %d failed=%v", i, failed)
		}
	}
}

// The transport's read buffer is small (256 bytes): an answer with long
// headers and a chunked body longer than it is still read whole.
func TestLongAnswersAreRead(t *testing.T) {
	long := strings.Repeat("v", 3000)
	srv, ca := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Long", long)
		w.WriteHeader(http.StatusBadRequest)
		for range 4 {
			w.Write([]byte(strings.Repeat("b", 500)))
			w.(http.Flusher).Flush() // chunked
		}
	})
	d := newDriver(t, srv.URL, ca, nil)
	var status int
	var body []byte
	err := d.SendObserved(context.Background(), []*event.Event{testEvent(nil)}, func(i, s int, b []byte) { status, body = s, b })
	if status != http.StatusBadRequest || len(body) < 1024 || err == nil {
		t.Fatalf("answer: status %d, %d bytes of body, err %v; want 400, at least 1 KiB, an error", status, len(body), err)
	}
}
