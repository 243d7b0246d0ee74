package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// With nats.url set, the gateway uses that server (a separate nats-server
// here, with a user and password) instead of embedding one.
func TestExternalNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		Username: "gw", Password: "pw", NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	defer ns.Shutdown()
	rc := testutil.NewReceiver(t)
	url := fmt.Sprintf("nats://gw:pw@%s", ns.Addr().String())
	cfg, err := config.Parse("ext.yaml", []byte(fmt.Sprintf(`
nats: {url: %q}
admin: {listen: "127.0.0.1:0"}
sinks:%s`, url, rc.SinkYAML("s", `[">"]`, 4, ""))), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()
	gatewaytest.Publish(t, g, "order.completed", "ext1", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "delivery through the external server", func() bool { return len(rc.Hits("s")) == 1 })
	if n := ns.JetStreamNumAccounts(); n < 1 {
		t.Errorf("JetStream accounts on the external server: %d", n)
	}
	if got := g.Bus().ClientURL(); got == "" {
		t.Error("no client URL")
	}
}
