// Package gatewaytest runs a whole gateway in a test: from a config's
// YAML, on the embedded JetStream the YAML names, ready before it returns
// and stopped at cleanup. It is apart from internal/testutil because it
// imports pkg/gateway, whose own in-package tests import testutil.
package gatewaytest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// Start runs a gateway on the config src until the test ends, and returns
// it when it is ready, with a stop that cancels it and waits at most
// stopWithin for Run to return (its error; a stop that takes longer is an
// error too). The cleanup stops it if the test did not, and fails the test
// on an error. Its logs are discarded unless the test is verbose.
func Start(t testing.TB, src string, stopWithin time.Duration) (*gateway.Gateway, func() error) {
	t.Helper()
	return StartLogging(t, src, stopWithin, nil)
}

// StartLogging is Start for a test that reads what the gateway logs: its
// logs (info and above, as text) go to w. A nil w is Start's.
func StartLogging(t testing.TB, src string, stopWithin time.Duration, w io.Writer) (*gateway.Gateway, func() error) {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		t.Fatalf("config:\n%v\n%s", err, src)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case w != nil:
		log = slog.New(slog.NewTextHandler(w, nil))
	case testing.Verbose():
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: log, Version: "test"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(stopWithin):
				runErr = fmt.Errorf("gateway did not stop within %s", stopWithin)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	testutil.WaitFor(t, 10*time.Second, "gateway ready", func() bool {
		return g.Ready(context.Background()) == nil
	})
	return g, stop
}

// Publish stores an event of type typ (subject events.<typ>) with id as
// its message id (none when empty) and the headers in hdr.
func Publish(t testing.TB, g *gateway.Gateway, typ, id string, data []byte, hdr map[string]string) {
	t.Helper()
	m := nats.NewMsg("events." + typ)
	m.Data = data
	if id != "" {
		m.Header.Set(event.HeaderMsgID, id)
	}
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	if _, err := g.Bus().JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}
