package admin_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/console"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

// reviewedPublic are the routes anyone the listener answers may call, as
// a security review listed them. A route the OpenAPI document marks public (security: [])
// that is not here fails the test, so a route cannot become anonymous by
// a line in the document alone.
var reviewedPublic = map[string]string{
	"GET /healthz":       "liveness probe",
	"GET /readyz":        "readiness probe",
	"POST /v1/session":   "the console's login: the admin token is its body",
	"DELETE /v1/session": "the console's logout: ends only the session its cookie names",
}

// profilerPrefix: without a token, the profiler answers only callers on
// this machine (their address, not the Host header).
const profilerPrefix = "/debug/pprof/"

// samples are the query strings a concrete request needs beyond its path:
// the profiler's long routes would otherwise run for 30 s or 1 s.
var samples = map[string]string{
	"GET /debug/pprof/profile": "?seconds=1",
	"GET /debug/pprof/trace":   "?seconds=0.05",
}

// bodies are the bodies a concrete request carries instead of "{}": the
// login's credential is its body, so every caller sends the right one
// (the listener's and the browser's guards are what is judged there).
var bodies = map[string]string{
	"POST /v1/session": `{"token":"` + adminToken + `"}`,
}

// routeRule is what a route's documentation says of its callers.
type routeRule struct {
	pattern string
	public  bool // security: [] in the OpenAPI document
	local   bool // the profiler: without a token, loopback peers only
}

// rulesOfRoutes judges every pattern the server registers by the
// OpenAPI document's security: an operation without one is not
// classified and fails the test, naming it.
func rulesOfRoutes(t *testing.T) []routeRule {
	t.Helper()
	var doc struct {
		Security []map[string][]string           `yaml:"security"`
		Paths    map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(admin.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	isBearer := func(s []map[string][]string) bool {
		return len(s) == 1 && len(s[0]) == 1 && s[0]["bearer"] != nil && len(s[0]["bearer"]) == 0
	}
	if !isBearer(doc.Security) {
		t.Fatalf("openapi.yaml's default security is %v, want [{bearer: []}]", doc.Security)
	}
	var rules []routeRule
	seen := map[string]bool{}
	for _, pattern := range admin.Patterns() {
		seen[pattern] = true
		method, path, _ := strings.Cut(pattern, " ")
		docPath := path
		if path == profilerPrefix { // the index serves every named profile below it
			docPath = profilerPrefix + "{profile}"
		}
		op, ok := doc.Paths[docPath][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %q has no documented rule: no %s %s in openapi.yaml", pattern, method, docPath)
			continue
		}
		var o struct {
			Security *[]map[string][]string `yaml:"security"`
		}
		if err := op.Decode(&o); err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		r := routeRule{pattern: pattern, local: strings.HasPrefix(path, profilerPrefix)}
		switch {
		case o.Security == nil || isBearer(*o.Security):
		case len(*o.Security) == 0:
			r.public = true
			if reviewedPublic[pattern] == "" {
				t.Errorf("route %q is documented public (security: []) but is not among the reviewed anonymous routes", pattern)
				continue
			}
		default:
			t.Errorf("route %q has a security rule this test does not know: %v", pattern, *o.Security)
			continue
		}
		if r.public && r.local {
			t.Errorf("route %q is both public and the profiler's", pattern)
		}
		rules = append(rules, r)
	}
	for p := range reviewedPublic {
		if !seen[p] {
			t.Errorf("reviewed public route %q is not served", p)
		}
	}
	if len(rules) < 25 {
		t.Fatalf("only %d routes judged", len(rules))
	}
	return rules
}

// stateChange: a method a browser may send cross-site only as a state
// change (refuseCrossSite's rule).
func stateChange(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// request derives a concrete request from a route's pattern: each path
// wildcard becomes the name of the sink the gateway runs, a state change
// carries an empty JSON object (or its entry in bodies).
func request(pattern, host string) *http.Request {
	method, path, _ := strings.Cut(pattern, " ")
	path = regexp.MustCompile(`\{\$\}`).ReplaceAllString(path, "")
	path = regexp.MustCompile(`\{[A-Za-z_]+(\.\.\.)?\}`).ReplaceAllString(path, "orders")
	var body io.Reader
	if stateChange(method) && method != http.MethodDelete {
		body = strings.NewReader("{}")
		if b, ok := bodies[pattern]; ok {
			body = strings.NewReader(b)
		}
	}
	r := httptest.NewRequest(method, "http://"+host+path+samples[pattern], body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// Hosts and peers of the callers.
const (
	loopbackHost = "127.0.0.1:9090"
	serviceHost  = "switchyard.internal:9090" // a name the admin listener serves with a token
	foreignHost  = "evil.example:9090"        // a DNS-rebinding page's Host
	loopbackPeer = "127.0.0.1:51000"
	remotePeer   = "192.0.2.50:51000"
	adminToken   = "s3cret"
)

// routeGateway runs a gateway with one webhook sink, orders (to a
// loopback receiver), whose admin handler every caller's requests reach.
func routeGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{YAML: fmt.Sprintf(`
nats:
  embedded: {listen: "127.0.0.1:0", store_dir: %q}
admin: {listen: "127.0.0.1:0"}
shutdown_grace: 2s
stream: {max_bytes: 8MB}
dead_letters: {max_bytes: 4MB}
sinks:
  - name: orders
    events: ["order.>"]
    webhook:
      url: %s/orders
      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
      timeout: 2s
      allow_private_networks: true
`, t.TempDir(), rcv.URL), StopWithin: 15 * time.Second})
	return g
}

// caller is one kind of client and what it sends.
type caller struct {
	name string
	peer string
	host string
	hdr  map[string]string
}

// Every route the admin server registers, with every kind of caller,
// judged by the route's documented rule: the operator's token (or a
// console session with its CSRF header) may call every route; without
// credentials, or with a wrong token, only the reviewed public routes
// answer (401 elsewhere); without admin.token only loopback Host headers
// are answered (403) and the profiler answers only loopback peers; a
// state change a browser sends for another site is refused (403), and one
// with a body type a form may send too (415). The routes come from the
// server's own list, so a new route is judged the day it is registered.
func TestEveryAdminRouteGivesEachCallerItsPower(t *testing.T) {
	rules := rulesOfRoutes(t)
	b := routeGateway(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	withToken := b.AdminHandler(admin.Options{Token: adminToken, Logger: quiet})
	noToken := b.AdminHandler(admin.Options{Logger: quiet})
	insecure := b.AdminHandler(admin.Options{InsecureNoAuth: true, Logger: quiet})

	// Each wrong token comes from an address of its own: the guard
	// throttles an address after a few (429), which is not what is judged.
	var guesses atomic.Int32
	send := func(h http.Handler, rule routeRule, c caller) *httptest.ResponseRecorder {
		r := request(rule.pattern, c.host)
		r.RemoteAddr = c.peer
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer wrong") {
			r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", guesses.Add(1))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	bearer := map[string]string{"Authorization": "Bearer " + adminToken}
	with := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for _, h := range []map[string]string{a, b} {
			for k, v := range h {
				m[k] = v
			}
		}
		return m
	}
	answered := func(code int) bool {
		return code != http.StatusUnauthorized && code != http.StatusForbidden && code != http.StatusTooManyRequests
	}

	for _, rule := range rules {
		t.Run(rule.pattern, func(t *testing.T) {
			method, _, _ := strings.Cut(rule.pattern, " ")
			// A session of its own: the logout route ends the one it gets.
			session := consoleSession(t, withToken)
			judge := func(h http.Handler, c caller, want string) {
				t.Helper()
				w := send(h, rule, c)
				var ok bool
				switch want {
				case "answered":
					ok = answered(w.Code)
				case "reached": // answered by the route itself, not the mux's 404 or 405
					ok = answered(w.Code) && w.Code != http.StatusMethodNotAllowed && w.Body.String() != "404 page not found\n"
				case "401":
					ok = w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != ""
				case "403":
					ok = w.Code == http.StatusForbidden
				case "415":
					ok = w.Code == http.StatusUnsupportedMediaType
				}
				if !ok {
					t.Errorf("%s: %d, want %s (%.200q)", c.name, w.Code, want, w.Body.String())
				}
			}
			// Operator's or public: what a caller without the token gets.
			deny := "401"
			if rule.public {
				deny = "answered"
			}

			// admin.token set: any Host, any peer.
			judge(withToken, caller{"no credentials", remotePeer, serviceHost, nil}, deny)
			judge(withToken, caller{"a wrong bearer token", remotePeer, serviceHost, map[string]string{"Authorization": "Bearer wrong"}}, deny)
			judge(withToken, caller{"a session cookie without its CSRF header", remotePeer, serviceHost, map[string]string{"Cookie": session.cookie}}, deny)
			judge(withToken, caller{"a session's CSRF header without its cookie", remotePeer, serviceHost, map[string]string{console.CSRFHeader: session.csrf}}, deny)
			judge(withToken, caller{"the admin token", remotePeer, serviceHost, bearer}, "reached")
			judge(withToken, caller{"a console session", remotePeer, serviceHost, map[string]string{"Cookie": session.cookie, console.CSRFHeader: session.csrf}}, "reached")

			// No admin.token: the loopback Host is the guard.
			judge(noToken, caller{"no token configured, loopback", loopbackPeer, loopbackHost, nil}, "reached")
			judge(noToken, caller{"no token configured, foreign Host", loopbackPeer, foreignHost, nil}, "403")
			if rule.local {
				judge(noToken, caller{"no token configured, remote peer", remotePeer, loopbackHost, nil}, "403")
				judge(insecure, caller{"insecure_no_auth, remote peer", remotePeer, foreignHost, nil}, "403")
			} else {
				judge(insecure, caller{"insecure_no_auth, remote peer", remotePeer, foreignHost, nil}, "answered")
			}

			if !stateChange(method) {
				return
			}
			// A browser's cross-site state change is refused whatever it
			// carries: the token, a session, or nothing on loopback.
			for _, site := range []struct {
				name string
				hdr  map[string]string
			}{
				{"Origin of another site", map[string]string{"Origin": "https://evil.example"}},
				{"Origin null (a sandboxed frame)", map[string]string{"Origin": "null"}},
				{"Origin of this host on another port", map[string]string{"Origin": "http://127.0.0.1:1"}},
				{"Sec-Fetch-Site: cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}},
				{"Sec-Fetch-Site: same-site", map[string]string{"Sec-Fetch-Site": "same-site"}},
			} {
				judge(withToken, caller{"cross-site with the admin token, " + site.name, remotePeer, serviceHost, with(bearer, site.hdr)}, "403")
				judge(withToken, caller{"cross-site with a session, " + site.name, remotePeer, serviceHost, with(map[string]string{"Cookie": session.cookie, console.CSRFHeader: session.csrf}, site.hdr)}, "403")
				judge(noToken, caller{"cross-site on loopback without a token, " + site.name, loopbackPeer, loopbackHost, site.hdr}, "403")
			}
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
				judge(withToken, caller{"a form's body type " + ct, remotePeer, serviceHost, with(bearer, map[string]string{"Content-Type": ct})}, "415")
				judge(noToken, caller{"a form's body type on loopback without a token " + ct, loopbackPeer, loopbackHost, map[string]string{"Content-Type": ct}}, "415")
			}
		})
	}
}

// loggedIn is a console session: its cookie header and CSRF value.
type loggedIn struct{ cookie, csrf string }

// consoleSession logs in as the console does (POST /v1/session with the
// token) and reads the CSRF value from a page.
func consoleSession(t *testing.T, h http.Handler) loggedIn {
	t.Helper()
	r := httptest.NewRequest("POST", "http://"+serviceHost+"/v1/session", strings.NewReader(`{"token":"`+adminToken+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = remotePeer
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusNoContent || len(cookies) != 1 {
		t.Fatalf("login: %d %v %s", w.Code, cookies, w.Body)
	}
	cookie := cookies[0].Name + "=" + cookies[0].Value
	r = httptest.NewRequest("GET", "http://"+serviceHost+"/", nil)
	r.Header.Set("Cookie", cookie)
	r.RemoteAddr = remotePeer
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no CSRF value in the console's page: %d %.300s", w.Code, w.Body)
	}
	return loggedIn{cookie: cookie, csrf: m[1]}
}
