package gateway_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hit is one request a receiver saw.
type hit struct {
	sink  string
	id    string
	at    time.Time
	valid bool
	body  []byte
	trace string // the traceparent header
}

// receiver is a real HTTPS endpoint; each sink posts to /<sink>. answer
// decides the status for the n-th request (1-based) carrying an event id.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	hits   []hit
	counts map[string]int // sink/id → requests
	answer func(w http.ResponseWriter, sink, id string, n int)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, counts: map[string]int{}}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sinkName := strings.TrimPrefix(r.URL.Path, "/")
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.counts[sinkName+"/"+id]++
		n := rc.counts[sinkName+"/"+id]
		// The reference Standard Webhooks library judges every signature.
		rc.hits = append(rc.hits, hit{sink: sinkName, id: id, at: time.Now(), valid: wh.Verify(body, r.Header) == nil, body: body, trace: r.Header.Get("traceparent")})
		answer := rc.answer
		rc.mu.Unlock()
		if answer != nil {
			answer(w, sinkName, id, n)
		}
	}))
	t.Cleanup(rc.srv.Close)
	rc.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(rc.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

func (rc *receiver) setAnswer(f func(w http.ResponseWriter, sink, id string, n int)) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

// delivered returns, for one sink, the ids answered 2xx-or-not, in order.
func (rc *receiver) hitsFor(sink string) []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hit
	for _, h := range rc.hits {
		if h.sink == sink {
			out = append(out, h)
		}
	}
	return out
}

// sinkYAML is one webhook sink posting to this receiver.
func (rc *receiver) sinkYAML(name, events, extra string) string {
	return fmt.Sprintf(`
  - name: %s
    events: %s
    concurrency: 4
%s    webhook:
      url: %s/%s
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %s}
`, name, events, extra, rc.srv.URL, name, secret, rc.caFile)
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
