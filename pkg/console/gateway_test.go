package console_test

import (
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

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const (
	token  = "s3cret"
	secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// receiver is a real HTTPS endpoint; each sink posts to /<sink>, and the
// test decides per sink what it answers.
type receiver struct {
	srv    *httptest.Server
	caFile string
	mu     sync.Mutex
	got    map[string][]string // sink → event ids answered 2xx
	fail   map[string]bool     // sink → answer 410 Gone
	slow   map[string]bool     // sink → wait 300ms before answering
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string][]string{}, fail: map[string]bool{}, slow: map[string]bool{}}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		sink := strings.TrimPrefix(r.URL.Path, "/")
		rc.mu.Lock()
		fail, slow := rc.fail[sink], rc.slow[sink]
		rc.mu.Unlock()
		if slow {
			time.Sleep(300 * time.Millisecond)
		}
		if fail {
			w.WriteHeader(http.StatusGone)
			_, _ = io.WriteString(w, "gone")
			return
		}
		rc.mu.Lock()
		rc.got[sink] = append(rc.got[sink], r.Header.Get("webhook-id"))
		rc.mu.Unlock()
		// A receiver's answer is shown in the console: it must stay text.
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `<script>window.pwnedByReceiver=1</script><b>ok</b>`)
	}))
	t.Cleanup(rc.srv.Close)
	rc.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(rc.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

func (rc *receiver) set(sink string, fail, slow bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fail[sink], rc.slow[sink] = fail, slow
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
	return fmt.Sprintf(`
  - name: %s
    events: [%q]
    concurrency: %d
    webhook:
      url: %s/%s
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %s}
`, name, events, concurrency, rc.srv.URL, name, secret, rc.caFile)
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
