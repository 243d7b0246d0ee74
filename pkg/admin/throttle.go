package admin

import (
	"container/list"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Failed authentications a client address may make: a burst, then one
// every few seconds. Only wrong tokens count; a request without any
// credential guesses nothing.
const (
	authFailureBurst = 10
	authFailureEvery = 6 * time.Second
	// authClientsKept bounds the addresses remembered: the least recently
	// failing go first, so an attacker cannot grow the table.
	authClientsKept = 10000
)

// Reasons of switchyard_admin_auth_failures_total.
const (
	reasonWrongToken = "wrong_token"         // a wrong admin token (login or bearer)
	reasonMissing    = "missing_credentials" // neither a bearer token nor a session
	reasonThrottled  = "throttled"           // refused with 429 before any check
)

// authGuard throttles, logs and counts failed authentications per client
// address (the peer's, never a header a client sets).
type authGuard struct {
	log      *slog.Logger
	failures *prometheus.CounterVec
	mu       sync.Mutex
	clients  map[string]*list.Element // → *clientBucket
	lru      list.List                // front: the most recent failure
	now      func() time.Time
}

type clientBucket struct {
	addr string
	lim  *rate.Limiter
}

func newAuthGuard(log *slog.Logger, reg prometheus.Registerer) *authGuard {
	if log == nil {
		log = slog.Default()
	}
	g := &authGuard{
		log: log, clients: map[string]*list.Element{}, now: time.Now,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_admin_auth_failures_total",
			Help: "Requests to the admin API or console login refused for their credentials, by reason (wrong_token, missing_credentials, throttled).",
		}, []string{"reason"}),
	}
	for _, r := range []string{reasonWrongToken, reasonMissing, reasonThrottled} {
		g.failures.WithLabelValues(r)
	}
	if reg != nil {
		if err := reg.Register(g.failures); err != nil {
			// A second handler on the same registry (tests) shares the first's counter.
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if c, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					g.failures = c
				}
			}
		}
	}
	return g
}

// clientKey is the address a bucket belongs to: the peer's IP, an IPv6
// peer's /64 (one host holds a whole /64).
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// throttled answers 429 with Retry-After, logs and counts it, when the
// request's address has no failure left; it reports whether it did.
func (g *authGuard) throttled(w http.ResponseWriter, r *http.Request) bool {
	key := clientKey(r)
	g.mu.Lock()
	var wait time.Duration
	if e, ok := g.clients[key]; ok {
		now := g.now()
		lim := e.Value.(*clientBucket).lim
		if tokens := lim.TokensAt(now); tokens < 1 {
			wait = time.Duration((1 - tokens) * float64(authFailureEvery))
		}
	}
	g.mu.Unlock()
	if wait <= 0 {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	g.failures.WithLabelValues(reasonThrottled).Inc()
	g.log.Warn("admin: authentication throttled", "client", key, "method", r.Method, "path", r.URL.Path, "retry_after_s", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many failed authentications from this address: retry after " + strconv.Itoa(secs) + "s"})
	return true
}

// failed records a refused authentication: logged (never the token) and
// counted; a wrong token also takes one of the address's failures.
func (g *authGuard) failed(r *http.Request, reason string) {
	key := clientKey(r)
	g.failures.WithLabelValues(reason).Inc()
	level := slog.LevelWarn
	if reason == reasonMissing {
		level = slog.LevelInfo // a browser whose session ended, a probe
	}
	g.log.Log(r.Context(), level, "admin: authentication refused", "reason", reason, "client", key, "method", r.Method, "path", r.URL.Path)
	if reason != reasonWrongToken {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.clients[key]
	if ok {
		g.lru.MoveToFront(e)
	} else {
		e = g.lru.PushFront(&clientBucket{addr: key, lim: rate.NewLimiter(rate.Every(authFailureEvery), authFailureBurst)})
		g.clients[key] = e
		for len(g.clients) > authClientsKept {
			last := g.lru.Back()
			g.lru.Remove(last)
			delete(g.clients, last.Value.(*clientBucket).addr)
		}
	}
	e.Value.(*clientBucket).lim.AllowN(g.now(), 1)
}
