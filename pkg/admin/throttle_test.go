package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/admin"
)

// Wrong admin tokens, at the console's login or as a bearer token, are
// throttled per client address: after a small burst the address gets 429
// with Retry-After, even with the right token (or guessing would go on at
// full speed), while other addresses are not affected.
func TestFailedAuthThrottledPerAddress(t *testing.T) {
	for _, tt := range []struct {
		name  string
		guess func(token string) *http.Request
		good  int
	}{
		{"console login", func(token string) *http.Request {
			r := httptest.NewRequest("POST", "http://127.0.0.1:9090/v1/session", strings.NewReader(`{"token":"`+token+`"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, http.StatusNoContent},
		{"bearer token", func(token string) *http.Request {
			r := httptest.NewRequest("GET", "http://127.0.0.1:9090/metrics", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			return r
		}, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			var logs testutil.SyncBuffer
			h := admin.HandlerWith(admin.Roles{}, admin.Options{Token: "s3cret", Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, reg)
			send := func(from, token string) *httptest.ResponseRecorder {
				r := tt.guess(token)
				r.RemoteAddr = from
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			refused, throttled := 0, 0
			for i := range 500 {
				switch w := send("192.0.2.1:4000", "guess"+strconv.Itoa(i)); w.Code {
				case http.StatusUnauthorized:
					refused++
				case http.StatusTooManyRequests:
					throttled++
					if s, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || s < 1 {
						t.Fatalf("429 with Retry-After %q", w.Header().Get("Retry-After"))
					}
				default:
					t.Fatalf("guess %d: %d %s", i, w.Code, w.Body)
				}
			}
			if refused > 20 || throttled < 480 {
				t.Fatalf("500 wrong tokens from one address: %d refused (401), %d throttled (429)", refused, throttled)
			}
			if w := send("192.0.2.1:4001", "s3cret"); w.Code != http.StatusTooManyRequests {
				t.Errorf("the right token from the throttled address: %d, want 429", w.Code)
			}
			if w := send("198.51.100.9:4000", "s3cret"); w.Code != tt.good {
				t.Errorf("the right token from another address: %d, want %d", w.Code, tt.good)
			}
			failures := func(reason string) int {
				return int(promtest.ToFloat64(mustCounter(t, reg, "switchyard_admin_auth_failures_total", reason)))
			}
			if failures("wrong_token") != refused || failures("throttled") != throttled+1 {
				t.Errorf("switchyard_admin_auth_failures_total: wrong_token %d (want %d), throttled %d (want %d)", failures("wrong_token"), refused, failures("throttled"), throttled+1)
			}
			out := logs.String()
			if n := strings.Count(out, "authentication refused"); n != refused {
				t.Errorf("%d refusals logged, want %d", n, refused)
			}
			if n := strings.Count(out, "authentication throttled"); n != throttled+1 {
				t.Errorf("%d throttles logged, want %d", n, throttled+1)
			}
			if strings.Contains(out, "guess") || strings.Contains(out, "s3cret") || !strings.Contains(out, "client=192.0.2.1") {
				t.Errorf("the log names a token, or not the client:\n%.500s", out)
			}
		})
	}
}

// mustCounter finds a counter of name with the label reason in reg.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, m.GetCounter().GetValue)
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return nil
}
