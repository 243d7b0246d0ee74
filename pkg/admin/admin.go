// Package admin serves Switchyard's HTTP admin API and guards its
// listener. It owns the routes (health and readiness, Prometheus metrics,
// the profiler, the endpoints API with its sink list, pause and resume,
// dead letters, replays, the attempt log, the running config, the OpenAPI
// document), the role interfaces they call (Roles: one per route group,
// each implemented by the part of the gateway that owns it), the
// console's login and logout (POST and DELETE /v1/session), the guards
// every path behind the listener passes (bearer token or session with its
// CSRF header, throttling of wrong tokens, refusal of cross-site state
// changes, the loopback-Host rule without a token) and the Client the
// CLI calls the API with. Each role's interface sits in the file of its
// route group (routes_endpoints.go holds Endpoints and endpointRoutes);
// routes.go holds what the groups share. The pages under "/" are the
// caller's (Options.Pages): the gateway mounts the console there.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/session"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Options secure the API.
type Options struct {
	// Token, when set, is the bearer token every route but /healthz and
	// /readyz needs.
	Token string
	// InsecureNoAuth answers any Host header without a token; otherwise,
	// without a token, only requests addressed to a loopback name or
	// address are answered (a DNS-rebinding page gets nothing).
	InsecureNoAuth bool
	// Logger logs refused authentications; nil: slog.Default().
	Logger *slog.Logger
	// Registerer takes switchyard_admin_auth_failures_total; nil: not
	// registered.
	Registerer prometheus.Registerer
	// Sessions are the console's logins, which the API accepts with their
	// CSRF header; the caller shares them with the pages. nil: a manager
	// of its own for Token, in this process only.
	Sessions *session.Manager
	// Pages answers every path the API does not (the web console), behind
	// the same cross-site refusal and loopback-Host guard; nil: 404.
	Pages http.Handler
}

// Handler builds the API with only a token set (see HandlerWith).
func Handler(roles Roles, token string, metrics prometheus.Gatherer) http.Handler {
	return HandlerWith(roles, Options{Token: token}, metrics)
}

// HandlerWith builds the API. With a token, every route but /healthz and
// /readyz needs "Authorization: Bearer <token>". State changes a browser
// could send cross-site without a preflight are refused (see
// refuseCrossSite); without a token, only loopback Host headers are
// answered unless o.InsecureNoAuth.
func HandlerWith(roles Roles, o Options, metrics prometheus.Gatherer) http.Handler {
	h, _ := build(roles, o, metrics)
	return h
}

// build builds the API and lists the patterns it serves (the OpenAPI
// document must name each one).
func build(roles Roles, o Options, metrics prometheus.Gatherer) (http.Handler, []string) {
	token := o.Token
	var patterns []string
	mux := recordingMux{http.NewServeMux(), &patterns}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := roles.Health.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	protected := recordingMux{http.NewServeMux(), &patterns}
	protected.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	for _, rt := range routesOf(roles) {
		protected.HandleFunc(rt.pattern, rt.handler())
	}
	handleProfiler(protected, token)
	// The console's login: a session cookie the API then accepts with the
	// CSRF header its pages send (see session.go).
	sessions := o.Sessions
	if sessions == nil {
		sessions = session.New(session.Options{Token: token, Logger: o.Logger})
	}
	guard := newAuthGuard(o.Logger, o.Registerer)
	mux.HandleFunc("POST /v1/session", login(token, sessions, guard))
	mux.HandleFunc("DELETE /v1/session", func(w http.ResponseWriter, r *http.Request) {
		sessions.Clear(w, r)
		w.WriteHeader(http.StatusNoContent)
	})
	api := requireToken(token, sessions, guard, protected)
	for _, prefix := range []string{"/v1/", "/metrics", "/debug/"} {
		mux.ServeMux.Handle(prefix, api)
	}
	// Everything else is the caller's pages (the web console), guarded
	// below as the API is.
	if o.Pages != nil {
		mux.ServeMux.Handle("/", o.Pages)
	}
	var h http.Handler = refuseCrossSite(mux)
	if token == "" && !o.InsecureNoAuth {
		h = requireLoopbackHost(h)
	}
	return h, patterns
}

// recordingMux is a ServeMux that lists the patterns registered on it.
type recordingMux struct {
	*http.ServeMux
	patterns *[]string
}

func (m recordingMux) Handle(pattern string, h http.Handler) {
	*m.patterns = append(*m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

func (m recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// refuseCrossSite refuses the state changes (any method but GET, HEAD and
// OPTIONS) that a web page could make an operator's browser send without a
// CORS preflight: those marked cross-site by the browser (an Origin other
// than this Host, or Sec-Fetch-Site cross-site or same-site) get 403, and
// those with a body type an HTML form or a no-cors fetch may send
// (text/plain, application/x-www-form-urlencoded, multipart/form-data) get
// 415. Clients send application/json, or no body.
func refuseCrossSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site == "cross-site" || site == "same-site" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused (Sec-Fetch-Site: " + site + "): state changes come from the CLI or same-origin pages only"})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("cross-site request refused (Origin %q is not this server, %q): state changes come from the CLI or same-origin pages only", origin, r.Host)})
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || mt == "text/plain" || mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": fmt.Sprintf("Content-Type %q refused for a state change: send application/json (or no body)", ct)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether an Origin header names host (host[:port]),
// a scheme's default port being the same as none.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" among them
	}
	norm := func(h, scheme string) string {
		h = strings.ToLower(h)
		if p := map[string]string{"http": ":80", "https": ":443"}[scheme]; p != "" {
			h = strings.TrimSuffix(h, p)
		}
		return h
	}
	return norm(u.Host, u.Scheme) == norm(host, u.Scheme)
}

// requireLoopbackHost answers only requests addressed to a loopback name
// or address. Without a token that is the API's only guard against DNS
// rebinding: a page on evil.example whose name now resolves to 127.0.0.1
// reaches the port, but its requests say Host: evil.example.
func requireLoopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !config.IsLoopbackHost(host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("Host %q refused: without admin.token the admin API answers only localhost, 127.0.0.1 or [::1]", r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireToken lets through the bearer token, or a console session: its
// cookie plus the CSRF header that goes with it. An address that sent
// too many wrong tokens is refused first, whatever it sends now.
func requireToken(token string, sessions *session.Manager, guard *authGuard, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if guard.throttled(w, r) {
			return
		}
		authz := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(authz), want) != 1 && !sessions.Authorized(r) {
			// Only a bearer token presented is a guess; a session cookie
			// is 256 random bits, and a stale one is a browser's, not an
			// attacker's.
			reason := reasonMissing
			if authz != "" {
				reason = reasonWrongToken
			}
			guard.failed(r, reason)
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, err error) {
	var fe config.FieldErrors
	if errors.As(err, &fe) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "invalid sink", "errors": fe})
		return
	}
	// A JetStream limit reached is the operator's to raise: the answer
	// names it and its value.
	var limit *bus.LimitError
	if errors.Is(err, gatewayapi.ErrConflict) || errors.As(err, &limit) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	if errors.Is(err, gatewayapi.ErrBadRequest) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if errors.Is(err, gatewayapi.ErrUnknownSink) || errors.Is(err, gatewayapi.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// No re-indenting: dead letters embed the producer's JSON, which must
	// come back as it was published.
	_ = json.NewEncoder(w).Encode(v)
}

// filterOf reads a dead-letter filter from the query string: type, tenant,
// reason, since, until (RFC 3339), offset, limit.
func filterOf(r *http.Request, defaultLimit int) (deadletter.Filter, error) {
	q := r.URL.Query()
	f := deadletter.Filter{Type: q.Get("type"), Tenant: q.Get("tenant"), Reason: q.Get("reason"), Limit: defaultLimit}
	if f.Tenant != "" {
		if err := subject.ValidTenant(f.Tenant); err != nil {
			return f, fmt.Errorf("tenant: %w", err)
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not RFC 3339", p.name, v)
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"offset", &f.Offset}, {"limit", &f.Limit}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return f, fmt.Errorf("%s must be a non-negative integer", p.name)
			}
			*p.dst = n
		}
	}
	if defaultLimit > 0 { // a list: one page, never the whole stream
		f.Limit = pageSize(f.Limit)
	}
	return f, nil
}

// Page sizes of the list endpoints (dead letters, attempts): limit=0 or
// none is the default page; a larger limit is cut to the maximum.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func pageSize(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return min(limit, MaxPageSize)
}

// attemptQueryOf reads an attempt query: sink, event_id, type, status,
// outcome, since, until (RFC 3339), limit (default 100).
func attemptQueryOf(r *http.Request) (attempts.Query, error) {
	v := r.URL.Query()
	q := attempts.Query{Sink: v.Get("sink"), EventID: v.Get("event_id"), Type: v.Get("type"), Tenant: v.Get("tenant"), Outcome: v.Get("outcome"), Limit: 100}
	f, err := filterOf(r, 100)
	if err != nil {
		return q, err
	}
	q.Since, q.Until, q.Limit = f.Since, f.Until, f.Limit
	if s := v.Get("status"); s != "" {
		if q.Status, err = strconv.Atoi(s); err != nil {
			return q, fmt.Errorf("status must be a number")
		}
	}
	return q, nil
}
