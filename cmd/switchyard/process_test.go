package main_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var binary string

// TestMain builds the real binary once; these tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchyard")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// countingReceiver counts deliveries per event id, verifying each with the
// Standard Webhooks reference library.
type countingReceiver struct {
	mu      sync.Mutex
	seen    map[string]int
	invalid int
	delay   time.Duration
	srv     *httptest.Server
	caFile  string
}

func newCountingReceiver(t *testing.T, delay time.Duration) *countingReceiver {
	wh, _ := standardwebhooks.NewWebhook(secret)
	rc := &countingReceiver{seen: map[string]int{}, delay: delay}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		delay := rc.delay
		rc.mu.Unlock()
		time.Sleep(delay)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if wh.Verify(body, r.Header) != nil {
			rc.invalid++
			w.WriteHeader(401)
			return
		}
		rc.seen[r.Header.Get("webhook-id")]++
	}))
	t.Cleanup(rc.srv.Close)
	rc.caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(rc.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw}), 0o600)
	return rc
}

func (rc *countingReceiver) counts() (unique, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.seen {
		unique++
		total += n
	}
	return
}

type harness struct {
	t       *testing.T
	cfgPath string
	natsURL string
	logs    *os.File
	env     []string
	admin   string
}

func newHarness(t *testing.T, rc *countingReceiver, grace string) *harness {
	return newHarnessWith(t, rc, grace, "")
}

// newHarnessWith adds more sinks (YAML list items) beside the webhook one.
func newHarnessWith(t *testing.T, rc *countingReceiver, grace, moreSinks string) *harness {
	dir := t.TempDir()
	port, adminPort := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`
nats:
  embedded: {listen: "127.0.0.1:%d", store_dir: %q}
admin: {listen: "127.0.0.1:%d"}
shutdown_grace: %s
log: {level: info, format: json}
api: {allow: [tls_files, private_networks]}
sinks:
  - name: crash
    events: [">"]
    concurrency: 8
    ack_wait: 3s
    retry: {schedule: [100ms, 200ms, 400ms, 800ms]}
    webhook:
      url: %s/hook
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %q}
%s`, port, filepath.Join(dir, "js"), adminPort, grace, rc.srv.URL, secret, rc.caFile, moreSinks)
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, _ := os.Create(filepath.Join(dir, "switchyard.log"))
	t.Cleanup(func() {
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			var keep []string
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.Contains(l, "interrupted by shutdown") && !strings.Contains(l, `"level":"DEBUG"`) {
					keep = append(keep, l)
				}
			}
			t.Logf("gateway logs (warnings and errors, shutdown hand-backs left out):\n%s", tail(strings.Join(keep, "\n"), 60))
		}
	})
	return &harness{t: t, cfgPath: path, natsURL: fmt.Sprintf("nats://127.0.0.1:%d", port), logs: logs,
		admin: fmt.Sprintf("http://127.0.0.1:%d", adminPort)}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start runs `switchyard run` and waits until its embedded NATS answers.
func (h *harness) start() *exec.Cmd {
	h.t.Helper()
	cmd := exec.Command(binary, "run", "--config", h.cfgPath)
	cmd.Env = append(os.Environ(), h.env...)
	cmd.Stdout, cmd.Stderr = h.logs, h.logs
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	// Ready means NATS is up and every sink's consumer is bound: events
	// published before a sink's consumer exists are, by design, not for it.
	var err error
	ready := testutil.Poll(30*time.Second, func() bool {
		var resp *http.Response
		if resp, err = http.Get(h.admin + "/readyz"); err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("readyz: %s", resp.Status)
			return false
		}
		return true
	})
	if !ready {
		h.t.Fatalf("switchyard did not come up: %v", err)
	}
	return cmd
}

func (h *harness) publish(from, n int) {
	h.t.Helper()
	nc, err := nats.Connect(h.natsURL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	for i := from; i < from+n; i++ {
		m := nats.NewMsg("events.order.completed")
		m.Header.Set("Nats-Msg-Id", fmt.Sprintf("evt-%05d", i))
		m.Data = []byte(fmt.Sprintf(`{"n":%d}`, i))
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			h.t.Fatal(err)
		}
	}
}

// kill -9 in the middle of deliveries, restart: every event arrives.
func TestKill9MidDeliveryLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	const n = 400
	rc := newCountingReceiver(t, 5*time.Millisecond)
	h := newHarness(t, rc, "5s")
	cmd := h.start()
	h.publish(0, n)
	testutil.WaitFor(t, 20*time.Second, "some deliveries", func() bool { u, _ := rc.counts(); return u >= 50 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before, _ := rc.counts()

	h.start()
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("all %d events after restart", n), func() bool { u, _ := rc.counts(); return u == n })
	// Duplicates still in flight land within 500ms, so the count below
	// includes them; no event beyond the n published may show up.
	testutil.Holds(t, 500*time.Millisecond, "no event beyond those published", func() bool { u, _ := rc.counts(); return u == n })
	unique, total := rc.counts()
	t.Logf("killed after %d of %d events; after restart: %d unique, %d deliveries, %d duplicates (at-least-once)", before, n, unique, total, total-unique)
	rc.mu.Lock()
	invalid := rc.invalid
	rc.mu.Unlock()
	if unique != n || invalid != 0 {
		t.Errorf("unique %d, invalid signatures %d", unique, invalid)
	}
}

// SIGTERM stops fetching, lets deliveries in flight finish within the
// grace period, exits 0; nothing is lost across the restart.
func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	const n = 60
	rc := newCountingReceiver(t, 300*time.Millisecond)
	h := newHarness(t, rc, "2s")
	cmd := h.start()
	h.publish(0, n)
	testutil.WaitFor(t, 20*time.Second, "deliveries in flight", func() bool { u, _ := rc.counts(); return u >= 8 })
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	if took > 4*time.Second {
		t.Errorf("took %s to stop with a 2s grace", took)
	}
	delivered, _ := rc.counts()
	rc.mu.Lock()
	rc.delay = 0
	rc.mu.Unlock()
	h.start()
	testutil.WaitFor(t, 30*time.Second, "all events after restart", func() bool { u, _ := rc.counts(); return u == n })
	_, total := rc.counts()
	t.Logf("SIGTERM after %d delivered; stopped in %s; after restart %d unique, %d duplicates", delivered, took.Round(time.Millisecond), n, total-n)
}
