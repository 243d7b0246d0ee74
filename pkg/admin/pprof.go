package admin

import (
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"
)

// handleProfiler registers Go's profiler on mux (behind the token, like
// the API), not through net/http/pprof's DefaultServeMux side effect.
// Without a token it answers only callers on this machine (see
// localCaller).
func handleProfiler(mux recordingMux, token string) {
	guard := func(h http.HandlerFunc) func(http.ResponseWriter, *http.Request) {
		if token != "" {
			return h // requireToken stands before it
		}
		return localCaller(h)
	}
	mux.HandleFunc("GET /debug/pprof/", guard(pprof.Index)) // and the named profiles: heap, goroutine, allocs, …
	mux.HandleFunc("GET /debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", guard(lasting(30, pprof.Profile)))
	mux.HandleFunc("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.HandleFunc("POST /debug/pprof/symbol", guard(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", guard(lasting(1, pprof.Trace)))
}

// localCaller answers only a peer on a loopback address whose request a
// browser did not send on behalf of another site. The Host check
// (requireLoopbackHost) is not enough: a page on evil.example can make an
// operator's browser GET http://127.0.0.1:9090/debug/pprof/profile, with
// a loopback Host, and a CPU profile or the command line costs or tells
// what it should not. With admin.insecure_no_auth the peer may be anyone,
// so its address is checked, not the Host header.
func localCaller(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the profiler answers only callers on this machine without admin.token"})
			return
		}
		if site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site == "cross-site" || site == "same-site" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused (Sec-Fetch-Site: " + site + ")"})
			return
		}
		for _, h := range []string{"Origin", "Referer"} {
			if v := r.Header.Get(h); v != "" && !sameOrigin(v, r.Host) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-site request refused (" + h + " is not this server)"})
				return
			}
		}
		next(w, r)
	}
}

// lastingMargin is what a profile's answer may take beyond its seconds.
const lastingMargin = time.Minute

// lasting exempts a profiler route that runs for ?seconds= (def when
// absent) from the listener's write timeout: its write deadline becomes
// the profile's length plus a margin.
func lasting(def float64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sec, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
		if err != nil || sec <= 0 || sec > 24*3600 {
			sec = def // pprof itself reads a bad value as its default
		}
		deadline := time.Now().Add(time.Duration(sec*float64(time.Second)) + lastingMargin)
		// An error is "not supported": no deadline to lift.
		_ = http.NewResponseController(w).SetWriteDeadline(deadline)
		h(w, r)
	}
}
