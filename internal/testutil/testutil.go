// Package testutil holds the helpers the package tests share: an embedded
// JetStream server or cluster (real NATS, never a mock) and a Bus on it,
// WaitFor, Poll and Holds for bounded waits, a webhook Receiver, FreePort,
// SyncBuffer, and a pstest fault reactor. Only tests import it.
package testutil

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchyard-dev/switchyard/internal/pubsubfake"
)

// JetStream is an in-process nats-server with JetStream, on a loopback
// port and a temporary store, and a connection to it.
type JetStream struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// URL is where a client reaches the server.
func (j *JetStream) URL() string { return j.Server.ClientURL() }

// StartJetStream starts an embedded JetStream server for the test and
// stops it at cleanup. configure, when not nil, may change the server
// options first (e.g. MaxPayload).
func StartJetStream(t testing.TB, configure func(*server.Options)) *JetStream {
	t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}
	if configure != nil {
		configure(opts)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("embedded nats-server not ready after 10s")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &JetStream{Server: ns, Conn: nc, JS: js}
}

// WaitFor polls cond every 20ms until it holds, and fails the test with
// what after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// Poll checks cond every 20ms until it holds (true) or d has passed
// (false), for a caller whose failure says more than WaitFor's (a log
// tail, the last error).
func Poll(d time.Duration, cond func() bool) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(d)
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// NewFailFirstPublish is a pstest reactor (for pstest.ServerReactorOption
// with FuncName "Publish") that refuses, with UNAVAILABLE, the first
// publish request carrying one of the given event ids (the "id"
// attribute), once per id.
func NewFailFirstPublish(ids ...string) *pubsubfake.RefusePublish {
	failed := map[string]bool{}
	for _, id := range ids {
		failed[id] = false
	}
	return &pubsubfake.RefusePublish{Refuse: func(ids []string) error {
		for _, id := range ids {
			if done, want := failed[id]; want && !done {
				failed[id] = true
				return status.Error(codes.Unavailable, "injected: first publish of "+id)
			}
		}
		return nil
	}}
}

// Holds polls cond every 20ms for the whole of d and fails the test with
// what as soon as cond stops holding. It is how a test shows that nothing
// (more) happens: d is a bound the caller states and explains, long
// enough for the wrong thing to show (a multiple of the retry, poll or
// heartbeat interval that would produce it), and the test learns of a
// breach at once rather than after a blind sleep.
func Holds(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(d)
	for {
		if !cond() {
			t.Fatalf("within %s: %s no longer holds", d, what)
		}
		if !time.Now().Before(deadline) {
			return
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			return
		}
	}
}
