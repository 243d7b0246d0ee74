package receiver_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/receiver"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

// secret is the Standard Webhooks test secret (ARCHITECTURE.md).
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// request builds a delivery of event id signed with secret at ts.
func request(t *testing.T, secret, id string, ts time.Time) *http.Request {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"id":%q,"type":"order.completed","timestamp":%q,"data":{}}`, id, ts.UTC().Format(time.RFC3339Nano)))
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	keys, err := signing.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	keys.SetHeaders(r.Header, id, ts, body)
	return r
}

type recorder struct {
	mu  sync.Mutex
	got []receiver.Delivery
}

func (r *recorder) add(d receiver.Delivery) { r.mu.Lock(); r.got = append(r.got, d); r.mu.Unlock() }

func TestVerdicts(t *testing.T) {
	other := "whsec_" + strings.Repeat("A", 32)
	tests := []struct {
		name      string
		signWith  string
		ts        time.Time
		opts      receiver.Options
		want      int
		wantValid bool
	}{
		{"valid", secret, time.Now(), receiver.Options{}, http.StatusNoContent, true},
		{"wrong secret", other, time.Now(), receiver.Options{}, http.StatusUnauthorized, false},
		{"stale timestamp", secret, time.Now().Add(-10 * time.Minute), receiver.Options{}, http.StatusUnauthorized, false},
		{"fail rate 1", secret, time.Now(), receiver.Options{FailRate: 1}, http.StatusServiceUnavailable, true},
		{"script", secret, time.Now(), receiver.Options{Script: func(string, int) int { return http.StatusGone }}, http.StatusGone, true},
		{"script 0 answers normally", secret, time.Now(), receiver.Options{Script: func(string, int) int { return 0 }}, http.StatusNoContent, true},
		{"script cannot pass a bad signature", other, time.Now(), receiver.Options{Script: func(string, int) int { return http.StatusOK }}, http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			tt.opts.Secrets, tt.opts.OnDelivery = []string{secret}, rec.add
			rc, err := receiver.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			rc.ServeHTTP(w, request(t, tt.signWith, "msg_1", tt.ts))
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
			if len(rec.got) != 1 {
				t.Fatalf("%d deliveries reported", len(rec.got))
			}
			d := rec.got[0]
			if d.Valid != tt.wantValid || (d.Err == nil) != tt.wantValid || d.Status != tt.want || d.ID != "msg_1" || d.Type != "order.completed" {
				t.Errorf("delivery %+v", d)
			}
			if retryAfter := w.Header().Get("Retry-After"); (tt.want == http.StatusServiceUnavailable) != (retryAfter == "1") {
				t.Errorf("Retry-After %q with status %d", retryAfter, tt.want)
			}
			if line := d.Describe(); !strings.Contains(line, "msg_1") || !strings.Contains(line, fmt.Sprint(tt.want)) {
				t.Errorf("Describe = %q", line)
			}
		})
	}
}

// Attempts count per event id, and a script sees them: fail the first
// two, then accept.
func TestAttemptsPerIDAndScript(t *testing.T) {
	var rec recorder
	rc, err := receiver.New(receiver.Options{
		Secrets:    []string{secret},
		Script:     func(_ string, n int) int { return map[bool]int{true: 500, false: 0}[n <= 2] },
		OnDelivery: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var statuses []int
	for _, id := range []string{"a", "a", "b", "a"} {
		r := request(t, secret, id, time.Now())
		req, _ := http.NewRequest(http.MethodPost, srv.URL, r.Body)
		req.Header = r.Header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if fmt.Sprint(statuses) != "[500 500 500 204]" {
		t.Errorf("statuses %v, want [500 500 500 204]", statuses)
	}
	var attempts []int
	for _, d := range rec.got {
		attempts = append(attempts, d.Attempt)
	}
	if fmt.Sprint(attempts) != "[1 2 1 3]" {
		t.Errorf("attempts %v, want [1 2 1 3]", attempts)
	}
	if rec.got[0].Latency <= 0 {
		t.Errorf("latency %v, want measured from the event's timestamp", rec.got[0].Latency)
	}
}

func TestDelay(t *testing.T) {
	rc, err := receiver.New(receiver.Options{Secrets: []string{secret}, Delay: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, request(t, secret, "slow", time.Now()))
	if took := time.Since(start); took < 150*time.Millisecond || w.Code != http.StatusNoContent {
		t.Errorf("answered %d after %s, want 204 after the delay", w.Code, took)
	}
}

func TestNewRejectsBadSecret(t *testing.T) {
	if _, err := receiver.New(receiver.Options{Secrets: []string{"not-a-secret"}}); err == nil {
		t.Error("New accepted a malformed secret")
	}
}
