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

// adminRaw GETs an admin path with the test token and returns the body.
func adminRaw(t *testing.T, g *gateway.Gateway, token, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.AdminAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// A webhook URL's path and query are often its credential: a failing
// endpoint must not put them in last_error, the attempt log, dead-letter
// reasons or the running config.
func TestWebhookURLSecretsStayOutOfErrorsAndAPI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	logs := &testutil.SyncBuffer{}
	rc := testutil.NewReceiver(t)
	sinkYAML := strings.Replace(rc.SinkYAML("s", `[">"]`, 4, "    retry: {schedule: [50ms], jitter: 0}\n"),
		rc.Server.URL+"/s", "https://"+closed+"/hooks/PATHTOKEN?token=QUERYTOKEN", 1)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: sinkYAML, Logs: logs, LogLevel: slog.LevelDebug})
	gatewaytest.Publish(t, g, "order.completed", "l1", []byte(`{}`), nil)

	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		return strings.Contains(adminRaw(t, g, "s3cret", "/v1/sinks/s/dead-letters"), `"id":"l1"`)
	})
	shown := map[string]string{
		"dead letters": adminRaw(t, g, "s3cret", "/v1/sinks/s/dead-letters"),
		"attempts":     adminRaw(t, g, "s3cret", "/v1/attempts?sink=s"),
		"sinks":        adminRaw(t, g, "s3cret", "/v1/sinks"),
		"logs":         logs.String(),
	}
	if !strings.Contains(shown["sinks"], "connection refused") || !strings.Contains(shown["dead letters"], "https://"+closed+"/…") {
		t.Errorf("the errors should still say what failed and where:\n%s\n%s", shown["sinks"], shown["dead letters"])
	}
	shown["config"] = adminRaw(t, g, "s3cret", "/v1/config")
	for what, text := range shown {
		for _, s := range []string{"PATHTOKEN", "QUERYTOKEN"} {
			if (what == "config" || what == "sinks") && s == "PATHTOKEN" {
				// The definition (in the config, and in each sink as the
				// endpoints API shows it) shows the path; only query values
				// and passwords are masked there.
				continue
			}
			if strings.Contains(text, s) {
				t.Errorf("%s show %s:\n%s", what, s, text)
			}
		}
	}
}

// The NATS URL's password is not logged (at start, on reconnect, in a
// connect error) and not returned by /v1/config.
func TestNATSPasswordStaysOutOfLogsAndAPI(t *testing.T) {
	const password = "NATSPASSWORD"
	dir := t.TempDir()
	start := func(port int) *server.Server {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
			Username: "gw", Password: password, NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		return ns
	}
	ns := start(-1)
	port := ns.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { ns.Shutdown() })
	url := fmt.Sprintf("nats://gw:%s@127.0.0.1:%d", password, port)

	logs := &testutil.SyncBuffer{}
	cfg, err := config.Parse("ext.yaml", []byte(fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\"}\nsinks: []\n", url)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.WaitFor(t, 10*time.Second, "running", func() bool { return strings.Contains(logs.String(), "switchyard running") })

	ns.Shutdown()
	ns.WaitForShutdown()
	ns = start(port)
	testutil.WaitFor(t, 15*time.Second, "reconnect logged", func() bool { return strings.Contains(logs.String(), "nats reconnected") })

	shown := map[string]string{
		"logs":       logs.String(),
		"config":     adminRaw(t, g, "", "/v1/config"),
		"client url": g.Bus().ClientURL(),
	}
	if !strings.Contains(shown["logs"], "127.0.0.1:"+fmt.Sprint(port)) {
		t.Errorf("logs should still name the server:\n%s", shown["logs"])
	}
	bad := strings.Replace(url, fmt.Sprint(port), "1", 1)
	cfg2, err := config.Parse("bad.yaml", []byte(fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\"}\nsinks: []\n", bad)), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: New waits for it (a cluster may still be
	// starting) until its context ends, and says what it waited for.
	badCtx, badCancel := context.WithTimeout(ctx, 2*time.Second)
	defer badCancel()
	if _, err := gateway.New(badCtx, cfg2, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Error("connected to port 1")
	} else {
		shown["connect error"] = err.Error()
	}
	for what, text := range shown {
		if strings.Contains(text, password) {
			t.Errorf("%s show the password:\n%s", what, text)
		}
	}
}
