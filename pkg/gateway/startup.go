package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// adminServer serves the admin listener from the start of New: while New
// waits for the NATS cluster (an election, a node not up yet), /healthz
// answers ok and /readyz says what it waits for, so an orchestrator keeps
// the replica alive but out of rotation instead of restarting it. Run
// installs the full API on the same server.
type adminServer struct {
	srv  *http.Server
	h    atomic.Pointer[http.Handler]
	errc chan error
}

// serveStarting starts answering on g.adminLn with the start-up handler.
func (g *Gateway) serveStarting() {
	a := &adminServer{errc: make(chan error, 1)}
	starting := g.startingHandler()
	a.h.Store(&starting)
	a.srv = newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*a.h.Load()).ServeHTTP(w, r) }), adminTimeouts)
	go func() { a.errc <- a.srv.Serve(g.adminLn) }()
	g.admin = a
}

// serve installs the full API and returns the server and its Serve error.
func (a *adminServer) serve(h http.Handler) (*http.Server, <-chan error) {
	a.h.Store(&h)
	return a.srv, a.errc
}

// startingHandler answers while New runs: alive, not ready, and why.
func (g *Gateway) startingHandler() http.Handler {
	write := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		write(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": g.Ready(r.Context()).Error()})
	})
	return mux
}

// readyTimeout bounds Ready's JetStream calls (all sinks together).
const readyTimeout = 2 * time.Second

// notRunning is Ready's answer before Run: what start-up waits for, if
// anything.
func (g *Gateway) notRunning() error {
	if w := g.retry.Waiting(); w != "" {
		return fmt.Errorf("starting: waiting for %s", w)
	}
	return errors.New("not running")
}
