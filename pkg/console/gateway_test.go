package console_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

const (
	token  = "s3cret"
	secret = testutil.WebhookSecret
	// apiAllow lets the sinks the console creates reach the loopback
	// receiver.
	apiAllow = "api: {allow: [tls_files, private_networks]}"
)

// receiver is testutil.Receiver answering as the test decides per sink,
// with a body that must stay text in the console.
type receiver struct {
	*testutil.Receiver
	mu   sync.Mutex
	got  map[string][]string // sink → event ids answered 2xx
	fail map[string]bool     // sink → answer 410 Gone
}

func newReceiver(t *testing.T) *receiver {
	tr := testutil.NewReceiver(t)
	rc := &receiver{Receiver: tr, got: map[string][]string{}, fail: map[string]bool{}}
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
	rc.SetDelay(sink, delay)
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
