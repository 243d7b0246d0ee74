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
	srv := httptest.NewServer(admin.Handler(nil, "s3cret", prometheus.NewRegistry()))
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
