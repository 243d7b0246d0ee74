package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// endpointLog counts, per endpoint path, the event ids it was sent.
type endpointLog struct {
	mu  sync.Mutex
	ids map[string][]string
	srv *httptest.Server
}

func newEndpointLog(t *testing.T) *endpointLog {
	e := &endpointLog{ids: map[string][]string{}}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		e.mu.Lock()
		e.ids[r.URL.Path] = append(e.ids[r.URL.Path], r.Header.Get("webhook-id"))
		e.mu.Unlock()
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// count is how many requests path got for events whose id starts with prefix.
func (e *endpointLog) count(path, prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, id := range e.ids[path] {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// startReplica runs a gateway on the JetStream at url until the test
// ends (or stop), logging into buf.
func startReplica(t *testing.T, url string, buf *testutil.SyncBuffer) (*gateway.Gateway, func() error) {
	t.Helper()
	src := fmt.Sprintf("nats: {url: %q}\nadmin: {listen: \"127.0.0.1:0\", token: t0ken}\napi: {allow: [private_networks]}\nshutdown_grace: 1s\nstream: {max_bytes: 8MB}\ndead_letters: {max_bytes: 4MB}\n", url)
	return gatewaytest.Run(t, gatewaytest.Options{YAML: src, Logs: buf})
}

func apiSinkSpecAs(t *testing.T, tenant, url, delivery string) []byte {
	spec, err := json.Marshal(map[string]any{"name": "orders", "events": []string{">"}, "tenant": tenant, "delivery": delivery,
		"webhook": map[string]any{"url": url, "allow_private_networks": true, "timeout": "2s"}})
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// Issue 18, item 2, across replicas: replica B still applies an earlier
// change (its reload lock is held) while replica A deletes API sink
// "orders" of tenant acme and creates "orders" again for tenant globex.
// B's dispatcher of the old sink loses its consumer; it must not recover
// onto the new sink's consumer of the same name, and none of globex's
// events may reach acme's endpoint. A shared sink's records are its
// incarnation's, so B's old sink is never offered the new one's; and B's
// matcher waits until it runs the new sink before it hands globex's
// events on, so none is lost to the new sink either.
func TestReCreatedSinkNeverDeliversThroughTheOldReplicasDispatcher(t *testing.T) {
	for _, delivery := range []string{"dedicated", "shared"} {
		t.Run(delivery, func(t *testing.T) { testReCreatedSinkNeverDeliversThroughTheOldReplicasDispatcher(t, delivery) })
	}
}

func testReCreatedSinkNeverDeliversThroughTheOldReplicasDispatcher(t *testing.T, delivery string) {
	js := testutil.StartJetStream(t, nil)
	ep := newEndpointLog(t)
	var logA, logB testutil.SyncBuffer
	a, stopA := startReplica(t, js.URL(), &logA)
	b, _ := startReplica(t, js.URL(), &logB)
	ctx := context.Background()
	if _, err := a.Admin().Endpoints.CreateSink(ctx, apiSinkSpecAs(t, "acme", ep.srv.URL+"/acme", delivery), "test"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "replica B running acme's sink", func() bool {
		tenant, ok := gateway.RunningTenant(b, "orders")
		return ok && tenant == "acme"
	})

	release := gateway.HoldReloads(b) // B is busy with an earlier change: it applies nothing meanwhile
	defer release()
	if err := a.Admin().Endpoints.DeleteSink(ctx, "orders", "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin().Endpoints.CreateSink(ctx, apiSinkSpecAs(t, "globex", ep.srv.URL+"/globex", delivery), "test"); err != nil {
		t.Fatal(err, "\nA:\n", logA.String(), "\nB:\n", logB.String())
	}
	stopA() // only B pulls from here on
	if delivery == "dedicated" {
		testutil.WaitFor(t, 15*time.Second, "B's old dispatcher to recover or stop", func() bool {
			s := logB.String()
			return strings.Contains(s, "consumer recreated") || strings.Contains(s, "this source ends")
		})
	}
	for i := 0; i < 10; i++ {
		m := nats.NewMsg(subject.TenantEvent("globex", "order.created"))
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("globex-%02d", i))
		m.Data = []byte(`{}`)
		if _, err := js.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(logB.String(), "consumer recreated") {
		testutil.WaitFor(t, 10*time.Second, "the recovered old dispatcher to deliver", func() bool { return ep.count("/acme", "globex") > 0 })
	}
	release()
	testutil.WaitFor(t, 15*time.Second, "B delivering globex's ten events for the new sink", func() bool {
		return ep.count("/globex", "globex") >= 10 || ep.count("/acme", "globex") > 0
	})
	if n := ep.count("/acme", "globex"); n > 0 {
		t.Fatalf("%d of tenant globex's events went to tenant acme's endpoint", n)
	}
}
