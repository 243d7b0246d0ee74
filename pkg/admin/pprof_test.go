package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/admin"
)

// The profiler is served behind the API's token, from the admin handler
// itself (not net/http's DefaultServeMux).
func TestPprofBehindToken(t *testing.T) {
	srv := httptest.NewServer(admin.Handler(admin.Roles{}, "s3cret", prometheus.NewRegistry()))
	defer srv.Close()
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if code, _ := get(path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, code)
		}
		if code, _ := get(path, "wrong"); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d, want 401", path, code)
		}
	}
	if code, body := get("/debug/pprof/", "s3cret"); code != http.StatusOK || !strings.Contains(body, "heap") {
		t.Errorf("GET /debug/pprof/ with the token: %d %.200q", code, body)
	}
	if code, body := get("/debug/pprof/heap", "s3cret"); code != http.StatusOK || len(body) == 0 {
		t.Errorf("GET /debug/pprof/heap with the token: %d, %d bytes", code, len(body))
	}
	if code, body := get("/debug/pprof/goroutine?debug=1", "s3cret"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine?debug=1 with the token: %d %.200q", code, body)
	}
}

// Without a token, the profiler answers only callers on this machine
// (the peer's address, not the Host header a DNS-rebinding page sets)
// and only requests a browser did not send for another site: a page
// elsewhere could otherwise make an operator's browser run a CPU
// profile or read the command line.
func TestPprofWithoutTokenLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   admin.Options
		remote string
		hdr    map[string]string
		want   int
	}{
		{"loopback caller", admin.Options{}, "127.0.0.1:5000", nil, http.StatusOK},
		{"loopback caller over IPv6", admin.Options{}, "[::1]:5000", nil, http.StatusOK},
		{"loopback caller, same origin", admin.Options{}, "127.0.0.1:5000", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"loopback caller, cross-site fetch", admin.Options{}, "127.0.0.1:5000", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"loopback caller, same-site fetch", admin.Options{}, "127.0.0.1:5000", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"loopback caller, other Origin", admin.Options{}, "127.0.0.1:5000", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"loopback caller, other Referer", admin.Options{}, "127.0.0.1:5000", map[string]string{"Referer": "https://evil.example/page"}, http.StatusForbidden},
		{"remote caller, insecure_no_auth", admin.Options{InsecureNoAuth: true}, "192.0.2.7:5000", nil, http.StatusForbidden},
		{"remote caller, loopback Host", admin.Options{}, "192.0.2.7:5000", nil, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := admin.HandlerWith(admin.Roles{}, tt.opts, prometheus.NewRegistry())
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline"} {
				r := httptest.NewRequest("GET", "http://127.0.0.1:9090"+path, nil)
				r.RemoteAddr = tt.remote
				for k, v := range tt.hdr {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.want {
					t.Errorf("GET %s from %s %v: %d, want %d (%.100q)", path, tt.remote, tt.hdr, w.Code, tt.want, w.Body.String())
				}
			}
		})
	}
}
