package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// internalConfig is a gateway on an embedded JetStream in dir, with
// webhook sinks that are never reached.
func internalConfig(t *testing.T, dir, grace string, sinks ...string) *config.Config {
	t.Helper()
	src := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q}\nadmin: {listen: \"127.0.0.1:0\"}\nshutdown_grace: %s\nsinks:\n", dir, grace)
	for _, s := range sinks {
		name, conc, _ := strings.Cut(s, ":")
		if conc == "" {
			conc = "4"
		}
		src += fmt.Sprintf("  - {name: %s, events: [\">\"], concurrency: %s, webhook: {url: \"http://127.0.0.1:1/\", secrets: [%q], timeout: 1s, allow_private_networks: true}}\n", name, conc, testSecret)
	}
	cfg, err := config.Parse("t.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runUntilCleanup runs g until the test ends, when its cleanup stops g
// and waits for Run to return. It returns once g runs.
func runUntilCleanup(t *testing.T, g *Gateway) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testutil.WaitFor(t, 10*time.Second, "running", func() bool { return g.running.Load() })
}

// When the admin server cannot serve, Run stops the sinks and returns the
// error rather than waiting forever for sinks nobody told to stop.
func TestRunReturnsWhenTheAdminServerFails(t *testing.T) {
	g, err := New(context.Background(), internalConfig(t, t.TempDir(), "1s", "a"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_ = g.adminLn.Close() // Serve fails at once
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin server") {
			t.Errorf("Run = %v, want the admin server's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the admin server failed")
	}
}

// A reload writes the shutdown grace while a sink starts: run with -race,
// the sink reads it under the gateway's lock, never bare.
func TestShutdownGraceReadUnderTheLockAgainstAReload(t *testing.T) {
	dir := t.TempDir()
	g, err := New(context.Background(), internalConfig(t, dir, "1s", "a"), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, g)
	// A sink built before the reload, started while (or after) it runs.
	extra, err := g.openSink(context.Background(), internalConfig(t, dir, "1s", "x").Sinks[0])
	if err != nil {
		t.Fatal(err)
	}
	next := internalConfig(t, dir, "3s", "a:2")
	reloaded, hold := make(chan error, 1), make(chan struct{})
	go func() {
		_, err := g.Reload(context.Background(), next, false)
		<-hold // stay alive: the race detector forgets a finished goroutine's writes
		reloaded <- err
	}()
	time.Sleep(time.Second) // no synchronisation with the reload on purpose
	g.startSink(context.Background(), extra)
	time.Sleep(300 * time.Millisecond)
	close(hold)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	g.stopSink(context.Background(), extra)
}
