package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const secret = testutil.WebhookSecret

// hit is one request a receiver saw.
type hit struct {
	sink  string
	id    string
	at    time.Time
	valid bool
	body  []byte
	trace string // the traceparent header
}

// receiver is testutil.Receiver with this package's names: srv and
// caFile, hits as hit, and mu, a lock the tests' answer functions share
// with the test for the switches they read.
type receiver struct {
	rc     *testutil.Receiver
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
}

func newReceiver(t *testing.T) *receiver {
	rc := testutil.NewReceiver(t)
	return &receiver{rc: rc, srv: rc.Server, caFile: rc.CAFile}
}

// setAnswer decides the status for the n-th request (1-based) carrying
// an event id.
func (rc *receiver) setAnswer(f func(w http.ResponseWriter, sink, id string, n int)) {
	rc.rc.SetAnswer(f)
}

// hitsFor returns one sink's requests in order; every request when sink
// is empty.
func (rc *receiver) hitsFor(sink string) []hit {
	var out []hit
	for _, h := range rc.rc.Hits(sink) {
		out = append(out, hit{sink: h.Sink, id: h.ID, at: h.At, valid: h.Valid, body: h.Body, trace: h.Trace})
	}
	return out
}

// sinkYAML is one webhook sink posting to this receiver.
func (rc *receiver) sinkYAML(name, events, extra string) string {
	return rc.rc.SinkYAML(name, events, 4, extra)
}

// stopTimeout bounds a test gateway's graceful stop.
var stopTimeout = 15 * time.Second

// startGateway runs a gateway on an embedded JetStream in dir.
func startGateway(t *testing.T, dir, sinks string) (*gateway.Gateway, func() error) {
	t.Helper()
	return startGatewayWith(t, dir, "", sinks)
}

// startGatewayWith adds top-level YAML (such as an attempts block).
func startGatewayWith(t *testing.T, dir, top, sinks string) (*gateway.Gateway, func() error) {
	t.Helper()
	return gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Top: top, Sinks: sinks, StopWithin: stopTimeout})
}

// startGatewayYAML runs a gateway on a whole config file.
func startGatewayYAML(t *testing.T, src string) (*gateway.Gateway, func() error) {
	t.Helper()
	return gatewaytest.Start(t, src, stopTimeout)
}

func publish(t *testing.T, g *gateway.Gateway, typ, id string, data []byte, hdr map[string]string) {
	t.Helper()
	gatewaytest.Publish(t, g, typ, id, data, hdr)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, d, what, cond)
}

// adminGet calls the admin API with its bearer token and decodes JSON.
func adminDo(t *testing.T, g *gateway.Gateway, method, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+g.AdminAddr()+path, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// redriveOne redrives sink's dead letters through the admin API and
// fails the test unless exactly one was sent back.
func redriveOne(t *testing.T, g *gateway.Gateway, sink string) {
	t.Helper()
	var res map[string]int
	if code := adminDo(t, g, "POST", "/v1/sinks/"+sink+"/dead-letters/redrive", &res); code != 200 || res["redriven"] != 1 {
		t.Fatalf("redrive: %d %v", code, res)
	}
}
