// Package gatewaytest runs a whole gateway in a test: from Options (the
// usual embedded JetStream, admin and sinks, or a whole config's YAML),
// ready before it returns and stopped at cleanup. It is apart from internal/testutil because it
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

// Options is what a test gateway differs in. The zero value runs on an
// embedded JetStream in a new temporary directory, with the admin API on
// loopback (token "s3cret"), a 2s shutdown grace and no sinks.
type Options struct {
	YAML       string        // a whole config file; when set, Dir, Admin, Top and Sinks are unused
	Dir        string        // the embedded JetStream's store; a new temporary directory when empty
	Admin      string        // the admin block (YAML flow); {listen: "127.0.0.1:0", token: "s3cret"} when empty
	Top        string        // more top-level YAML (an attempts or api block, say)
	Sinks      string        // the items of the sinks list (YAML)
	Logs       io.Writer     // where its logs go, as text (else discarded, or stderr when verbose)
	LogLevel   slog.Level    // with Logs, the lowest level kept (info when zero)
	StopWithin time.Duration // the bound on a graceful stop; 15s when zero
}

// config is the config file the options describe.
func (o Options) config(t testing.TB) string {
	if o.YAML != "" {
		return o.YAML
	}
	dir, admin := o.Dir, o.Admin
	if dir == "" {
		dir = t.TempDir()
	}
	if admin == "" {
		admin = `{listen: "127.0.0.1:0", token: "s3cret"}`
	}
	return fmt.Sprintf(`
nats:
  embedded: {listen: "127.0.0.1:0", store_dir: %q}
admin: %s
shutdown_grace: 2s
%s
sinks:%s`, dir, admin, o.Top, o.Sinks)
}

// Run runs a gateway on the config the options describe until the test
// ends, and returns it when it is ready, with a stop that cancels it and
// waits at most StopWithin for Run to return (its error; a stop that takes
// longer is an error too). The cleanup stops it if the test did not, and
// fails the test on an error. Its logs go to Logs, else are discarded
// unless the test is verbose. It is the one way a test starts a gateway.
func Run(t testing.TB, o Options) (*gateway.Gateway, func() error) {
	t.Helper()
	stopWithin, w, level := o.StopWithin, o.Logs, o.LogLevel
	if stopWithin == 0 {
		stopWithin = 15 * time.Second
	}
	src := o.config(t)
	cfg, err := config.Parse("test.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		t.Fatalf("config:\n%v\n%s", err, src)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case w != nil:
		log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
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
