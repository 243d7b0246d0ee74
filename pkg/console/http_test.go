package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/console"
)

// client is a browser without JavaScript: a cookie jar and no redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func (c *client) do(method, path, body string, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The console over plain HTTP: its headers, the login and what the
// session may do, and that values from events and receivers stay text.
func TestConsoleOverHTTP(t *testing.T) {
	rc := newReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiAllow, Sinks: rc.SinkYAML("orders", `["order.*"]`, 4, "")})
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: "http://" + g.AdminAddr(), c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	gatewaytest.Publish(t, g, "order.created", "evt-xss", []byte(`{"note":"<script>window.pwned=1</script>"}`),
		map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	gatewaytest.Publish(t, g, "order.created", "evt-bin", []byte("\x00\x01<script>\xff"), nil)
	testutil.WaitFor(t, 10*time.Second, "both delivered and logged", func() bool {
		recs, _ := g.Admin().Events.Attempts(t.Context(), attempts.Query{Sink: "orders"})
		return len(recs) == 2
	})

	t.Run("pages need a login", func(t *testing.T) {
		for _, path := range []string{"/", "/sinks/orders", "/events/evt-xss", "/logs", "/replay"} {
			resp, _ := c.do("GET", path, "", nil)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("%s: %s %s", path, resp.Status, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("security headers", func(t *testing.T) {
		for _, path := range []string{"/login", "/assets/app.js", "/"} {
			resp, _ := c.do("GET", path, "", nil)
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: %v", path, resp.Header)
			}
		}
	})
	t.Run("a wrong token is refused", func(t *testing.T) {
		if resp, body := c.do("POST", "/v1/session", `{"token":"nope"}`, nil); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
			t.Fatalf("%s %s", resp.Status, body)
		}
	})
	resp, body := c.do("POST", "/v1/session", `{"token":"`+token+`"}`, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("login: %s %s", resp.Status, body)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || strings.Contains(sc, "Secure") {
		t.Fatalf("cookie over plain HTTP: %s", sc)
	}
	_, page := c.do("GET", "/", "", nil)
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF value in the page:\n%s", page)
	}
	c.csrf = m[1]
	if _, page := c.do("GET", "/sinks/orders", "", nil); !strings.Contains(page, `<dd id="sink-delivery">dedicated</dd>`) {
		t.Errorf("the sink page does not show the sink's delivery:\n%s", page)
	}

	t.Run("the API takes the cookie only with the CSRF header", func(t *testing.T) {
		for _, tt := range []struct {
			name, method, path, body string
			hdr                      map[string]string
			want                     int
		}{
			{"read without CSRF", "GET", "/v1/sinks", "", nil, 401},
			{"change without CSRF", "POST", "/v1/sinks/orders/pause", "", nil, 401},
			{"change with a wrong CSRF", "POST", "/v1/sinks/orders/pause", "", map[string]string{console.CSRFHeader: "x"}, 401},
			{"read with CSRF", "GET", "/v1/sinks", "", map[string]string{console.CSRFHeader: c.csrf}, 200},
			{"pause with CSRF", "POST", "/v1/sinks/orders/pause", `{"reason":"test"}`, map[string]string{console.CSRFHeader: c.csrf}, 200},
			{"resume with CSRF", "POST", "/v1/sinks/orders/resume", "", map[string]string{console.CSRFHeader: c.csrf}, 200},
			{"cross-site with CSRF", "POST", "/v1/sinks/orders/pause", "", map[string]string{console.CSRFHeader: c.csrf, "Sec-Fetch-Site": "cross-site"}, 403},
			{"the bearer token still works", "GET", "/v1/sinks", "", map[string]string{"Authorization": "Bearer " + token}, 200},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if resp, body := c.do(tt.method, tt.path, tt.body, tt.hdr); resp.StatusCode != tt.want {
					t.Fatalf("%s %s", resp.Status, body)
				}
			})
		}
	})
	t.Run("event and receiver scripts show as text", func(t *testing.T) {
		resp, page := c.do("GET", "/events/evt-xss", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s", resp.Status, page)
		}
		for _, raw := range []string{"<script>window.pwned", "<script>window.pwnedByReceiver"} {
			if strings.Contains(page, raw) {
				t.Errorf("%q is in the page unescaped", raw)
			}
		}
		for _, esc := range []string{"&lt;script&gt;window.pwned=1&lt;/script&gt;", "&lt;script&gt;window.pwnedByReceiver=1&lt;/script&gt;"} {
			if !strings.Contains(page, esc) {
				t.Errorf("%q is not in the page", esc)
			}
		}
		// The attempt's trace id (tracing off: the producer's trace).
		if !strings.Contains(page, `<code class="trace">4bf92f3577b34da6a3ce929d0e0e4736</code>`) {
			t.Errorf("no trace id in the attempts:\n%s", page)
		}
		if n := strings.Count(page, "<script"); n != 1 {
			t.Errorf("%d script elements, want only app.js", n)
		}
	})
	t.Run("bytes that are not text show as hex", func(t *testing.T) {
		_, page := c.do("GET", "/events/evt-bin", "", nil)
		if !strings.Contains(page, "00000000  00 01 3c 73 63 72 69 70  74 3e ff") || strings.Contains(page, "<script>\xff") {
			t.Errorf("no hex dump:\n%s", page)
		}
	})
	t.Run("logging out ends the session", func(t *testing.T) {
		c.do("DELETE", "/v1/session", "", nil)
		if resp, _ := c.do("GET", "/v1/sinks", "", map[string]string{console.CSRFHeader: c.csrf}); resp.StatusCode != 401 {
			t.Fatalf("after logout: %s", resp.Status)
		}
	})
}
