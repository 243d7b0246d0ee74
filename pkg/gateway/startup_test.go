package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// startNATSWithPassword starts a JetStream server for user gw, password
// pw, on port (a random one when it is server.RANDOM_PORT), and returns
// the port it listens on.
func startNATSWithPassword(t *testing.T, port int) int {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(),
		Username: "gw", Password: "pw", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.Addr().(*net.TCPAddr).Port
}

// get returns an admin path's status and body ("" and 0 when it does not
// answer).
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A gateway started before its NATS server is up does not exit: /healthz
// answers, /readyz says what it waits for, and once the server is up it
// becomes ready and delivers.
func TestStartWaitsForNATS(t *testing.T) {
	natsPort, adminPort := testutil.FreePort(t), testutil.FreePort(t)
	rc := testutil.NewReceiver(t)
	cfg, err := config.Parse("wait.yaml", []byte(fmt.Sprintf(`
nats: {url: "nats://gw:pw@127.0.0.1:%d"}
admin: {listen: "127.0.0.1:%d"}
stream: {max_bytes: 8MB}
dead_letters: {max_bytes: 4MB}
sinks:%s`, natsPort, adminPort, rc.SinkYAML("s", `[">"]`, 4, ""))), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type made struct {
		g   *gateway.Gateway
		err error
	}
	newDone := make(chan made, 1)
	go func() {
		g, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		newDone <- made{g, err}
	}()
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	var body string
	testutil.WaitFor(t, 10*time.Second, "/readyz saying what start-up waits for", func() bool {
		var code int
		code, body = get(admin + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting for nats connect")
	})
	if strings.Contains(body, "pw@") {
		t.Errorf("/readyz shows the password: %s", body)
	}
	if code, _ := get(admin + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while waiting: %d", code)
	}
	if code, _ := get(admin + "/v1/sinks"); code != http.StatusServiceUnavailable {
		t.Errorf("/v1/sinks while waiting: %d, want 503", code)
	}
	// 1500ms is several connection retries: New is still waiting, not exited.
	testutil.Holds(t, 1500*time.Millisecond, "New still waiting for the server", func() bool { return len(newDone) == 0 })
	select {
	case m := <-newDone:
		t.Fatalf("New returned before the server was up: %v", m.err)
	default:
	}

	startNATSWithPassword(t, natsPort)
	var g *gateway.Gateway
	select {
	case m := <-newDone:
		if m.err != nil {
			t.Fatal(m.err)
		}
		g = m.g
	case <-time.After(20 * time.Second):
		t.Fatal("New did not return once the server was up")
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.WaitFor(t, 10*time.Second, "ready", func() bool { code, _ := get(admin + "/readyz"); return code == http.StatusOK })
	gatewaytest.Publish(t, g, "order.completed", "late1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "delivery", func() bool { return len(rc.Hits("s")) == 1 })
}

// A wrong password is no condition a cluster recovers from: New fails at
// once, saying so.
func TestStartFailsFastOnAuth(t *testing.T) {
	port := startNATSWithPassword(t, server.RANDOM_PORT)
	cfg, err := config.Parse("auth.yaml", []byte(fmt.Sprintf("nats: {url: \"nats://gw:wrong@127.0.0.1:%d\"}\nadmin: {listen: \"127.0.0.1:0\"}\nsinks: []\n", port)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("err = %v, want an authorization error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to fail", d)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the password: %v", err)
	}
}
