package gateway

import (
	"net/http"
	"time"
)

// serverTimeouts bound what one client may hold of an HTTP listener.
type serverTimeouts struct {
	// ReadHeader bounds the request's headers, Read the whole request
	// with its body (an unfinished body holds a connection no longer).
	ReadHeader, Read time.Duration
	// Write bounds a request from its handler's start to the last byte
	// of its answer. A handler that legitimately runs longer (the
	// profiler's profile?seconds= and trace) moves its own deadline with
	// http.ResponseController.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests.
	Idle time.Duration
}

var (
	// adminTimeouts: a sink's test send, a redrive or a long dead-letter
	// page answer within the write timeout.
	adminTimeouts = serverTimeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 5 * time.Minute, Idle: 2 * time.Minute}
	// ingestTimeouts: a batch of at most ingest.max_body, published with
	// PubAcks.
	ingestTimeouts = serverTimeouts{ReadHeader: 10 * time.Second, Read: time.Minute, Write: 2 * time.Minute, Idle: 2 * time.Minute}
)

// newHTTPServer builds every listener's server (admin and ingest) with its
// timeouts. The write timeout is a per-request deadline set before the
// handler runs, not http.Server.WriteTimeout: a handler can then extend
// it for itself, and net/http/pprof does not refuse a profile longer
// than the server's WriteTimeout.
func newHTTPServer(h http.Handler, t serverTimeouts) *http.Server {
	return &http.Server{
		Handler:           deadlines(h, t.Write),
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		IdleTimeout:       t.Idle,
	}
}

// deadlines sets each request's write deadline d from its handler's
// start. (The read timeout needs nothing here: net/http lifts it once a
// request's body is read, so it never cancels a long handler.)
func deadlines(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error is "not supported", only from writers that are not a
		// connection's (tests' recorders), which have no deadline.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		h.ServeHTTP(w, r)
	})
}
