package admin

import (
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
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
	mux.HandleFunc("GET /debug/pprof/profile", guard(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.HandleFunc("POST /debug/pprof/symbol", guard(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", guard(pprof.Trace))
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
