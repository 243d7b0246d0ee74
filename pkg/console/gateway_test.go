package console_test

import (
	"fmt"
	"io"
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

const (
	token  = "s3cret"
	secret = testutil.WebhookSecret
)

// receiver is testutil.Receiver answering as the test decides per sink.
type receiver struct {
	rc     *testutil.Receiver
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	got    map[string][]string // sink → event ids answered 2xx
	fail   map[string]bool     // sink → answer 410 Gone
}

func newReceiver(t *testing.T) *receiver {
	tr := testutil.NewReceiver(t)
	rc := &receiver{rc: tr, srv: tr.Server, caFile: tr.CAFile, got: map[string][]string{}, fail: map[string]bool{}}
	tr.SetAnswer(func(w http.ResponseWriter, sink, id string, _ int) {
		rc.mu.Lock()
		fail := rc.fail[sink]
		rc.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, "gone")
			return
		}
		rc.mu.Lock()
		rc.got[sink] = append(rc.got[sink], id)
		rc.mu.Unlock()
		// A receiver's answer is shown in the console: it must stay text.
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `<script>window.pwnedByReceiver=1</script><b>ok</b>`)
	})
	return rc
}

// set makes sink's endpoint answer 410 Gone (fail), and take 300ms to
// answer (slow).
func (rc *receiver) set(sink string, fail, slow bool) {
	rc.mu.Lock()
	rc.fail[sink] = fail
	rc.mu.Unlock()
	delay := time.Duration(0)
	if slow {
		delay = 300 * time.Millisecond
	}
	rc.rc.SetDelay(sink, delay)
}

func (rc *receiver) received(sink, id string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, g := range rc.got[sink] {
		if g == id {
			return true
		}
	}
	return false
}

func (rc *receiver) sinkYAML(name, events string, concurrency int) string {
	return rc.rc.SinkYAML(name, fmt.Sprintf("[%q]", events), concurrency, "")
}

// startGateway runs a gateway with an embedded JetStream, the admin
// listener (token s3cret) and the sinks given.
func startGateway(t *testing.T, sinks string) *gateway.Gateway {
	t.Helper()
	g, _ := gatewaytest.Run(t, gatewaytest.Options{
		Admin: fmt.Sprintf(`{listen: "127.0.0.1:0", token: %q}`, token),
		Top:   "api: {allow: [tls_files, private_networks]}",
		Sinks: sinks,
	})
	return g
}

func publish(t *testing.T, g *gateway.Gateway, typ, id string, data []byte) {
	t.Helper()
	publishWith(t, g, typ, id, data, nil)
}

func publishWith(t *testing.T, g *gateway.Gateway, typ, id string, data []byte, hdr map[string]string) {
	t.Helper()
	gatewaytest.Publish(t, g, typ, id, data, hdr)
}
