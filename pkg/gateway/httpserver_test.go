package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/admin"
)

// pipeListener hands out in-memory connections, so a server runs inside
// a synctest bubble (a TCP socket's wait is not one the bubble sees).
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// untilClosed reads c until the server closes it and returns how long
// that took; it fails the test if c is still open after limit.
func untilClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %s", time.Since(start))
	}
	return time.Since(start)
}

// The admin listener closes a connection whose request body never ends
// (a login started and left unfinished) after its read timeout, and an
// idle keep-alive connection after its idle timeout; before, it had only
// a header timeout and held both open for ever.
func TestAdminServerTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		g := &Gateway{adminLn: ln}
		g.serveStarting()
		srv, _ := g.admin.serve(admin.HandlerWith(admin.Roles{}, admin.Options{Token: "s3cret"}, prometheus.NewRegistry()))
		defer srv.Close()

		c := ln.dial()
		defer c.Close()
		fmt.Fprint(c, "POST /v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"token\":")
		if took := untilClosed(t, c, time.Hour); took > 31*time.Second {
			t.Errorf("half a body: closed after %s, want the read timeout (30s)", took)
		}

		idle := ln.dial()
		defer idle.Close()
		fmt.Fprint(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		if took := untilClosed(t, idle, time.Hour); took > 3*time.Minute {
			t.Errorf("idle keep-alive: closed after %s", took)
		}
	})
}

// The read timeout bounds reading a request, not answering it: a handler
// that runs longer than it (a redrive, a test send to a slow receiver)
// keeps its context once it has read the body. (A guard: net/http lifts
// the read deadline when the body is read.)
func TestServerReadTimeoutSparesLongHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-time.After(2 * time.Minute):
				fmt.Fprint(w, "finished")
			case <-r.Context().Done():
				fmt.Fprint(w, "canceled")
			}
		}), adminTimeouts)
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		for _, req := range []string{
			"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			"POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		} {
			c := ln.dial()
			fmt.Fprint(c, req)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "finished" {
				t.Errorf("%q: answered %q", req, b)
			}
			c.Close()
		}
	})
}

// The profiler's long routes are exempt from the write timeout: with the
// read and write timeouts at 300ms, a one-second CPU profile and trace
// come back whole.
func TestProfilerExemptFromWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	short := serverTimeouts{ReadHeader: time.Second, Read: 300 * time.Millisecond, Write: 300 * time.Millisecond, Idle: time.Second}
	srv := newHTTPServer(admin.HandlerWith(admin.Roles{}, admin.Options{Token: "s3cret"}, prometheus.NewRegistry()), short)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, path := range []string{"/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=1"} {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+path, nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(b) == 0 || time.Since(start) < time.Second {
			t.Errorf("%s: %s, %d bytes after %s, %v", path, resp.Status, len(b), time.Since(start), err)
		}
	}
}
