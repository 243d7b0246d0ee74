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
	// failFirst, when set, answers 503 to the first attempt of the
	// events it names, so their retries wait.
	failFirst func(id string) bool
	tried     map[string]bool
}

func newCountingReceiver(t *testing.T, delay time.Duration) *countingReceiver {
	wh, _ := standardwebhooks.NewWebhook(secret)
	rc := &countingReceiver{seen: map[string]int{}, delay: delay, tried: map[string]bool{}}
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
		id := r.Header.Get("webhook-id")
		if rc.failFirst != nil && rc.failFirst(id) && !rc.tried[id] {
			rc.tried[id] = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.seen[id]++
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
	cmd     *exec.Cmd // the last one started
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
	return newHarnessSink(t, rc, grace, "delivery: dedicated\n    retry: {schedule: [100ms, 200ms, 400ms, 800ms]}", moreSinks)
}

// newHarnessSink is newHarnessWith with more keys for the webhook sink
// (indented as its other keys).
func newHarnessSink(t *testing.T, rc *countingReceiver, grace, sinkKeys, moreSinks string) *harness {
	return newHarnessNATS(t, rc, grace, "", sinkKeys, moreSinks)
}

// newHarnessNATS is newHarnessSink with the gateway a client of natsURL
// (a server that outlives its kills) instead of embedding its own, when
// natsURL is set.
func newHarnessNATS(t *testing.T, rc *countingReceiver, grace, natsURL, sinkKeys, moreSinks string) *harness {
	dir := t.TempDir()
	port, adminPort := testutil.FreePort(t), testutil.FreePort(t)
	natsCfg := fmt.Sprintf("embedded: {listen: \"127.0.0.1:%d\", store_dir: %q}", port, filepath.Join(dir, "js"))
	if natsURL != "" {
		natsCfg = fmt.Sprintf("{url: %q}", natsURL)
	} else {
		natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	}
	cfg := fmt.Sprintf(`
nats:
  %s
admin: {listen: "127.0.0.1:%d"}
shutdown_grace: %s
log: {level: info, format: json}
api: {allow: [tls_files, private_networks]}
sinks:
  - name: crash
    events: [">"]
    concurrency: 8
    ack_wait: 3s
    %s
    webhook:
      url: %s/hook
      secrets: [%q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %q}
%s`, natsCfg, adminPort, grace, sinkKeys, rc.srv.URL, secret, rc.caFile, moreSinks)
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
	return &harness{t: t, cfgPath: path, natsURL: natsURL, logs: logs,
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
	h.cmd = cmd
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

// kill -9 in the middle of deliveries, restart: every event arrives, with
// the sink fed by its own consumer (dedicated) and by shared delivery.
func TestKill9MidDeliveryLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	for _, delivery := range []string{"dedicated", "shared"} {
		t.Run(delivery, func(t *testing.T) {
			const n = 400
			rc := newCountingReceiver(t, 5*time.Millisecond)
			h := newHarnessSink(t, rc, "5s", "delivery: "+delivery+"\n    retry: {schedule: [100ms, 200ms, 400ms, 800ms]}", "")
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
		})
	}
}

// kill -9 at each step of an event's way: while events are matched and
// handed on (right after a burst is published), mid-delivery, while
// retries wait (every tenth event fails its first attempt; a retry of a
// second or more waits as a message schedule in shared delivery), and
// while the last ones are settled. Every event arrives, whether the sink
// is dedicated or shared, and whether the gateway embeds its NATS server
// (killed with it) or is a replica of a server that outlives it. Killed
// alone, a replica with a shared sink repeats at most what it had in
// flight at each kill: the sink's concurrency. (With its embedded server,
// a kill also loses the server's last 100 ms of consumer acks, which
// nats-server writes to disk at most every 100 ms: those events come
// again, in either delivery.)
func TestKill9AtEachStepLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	for _, server := range []string{"embedded", "replica"} {
		for _, delivery := range []string{"dedicated", "shared"} {
			t.Run(server+"/"+delivery, func(t *testing.T) {
				t.Parallel() // mostly waiting: redelivery after the kills
				kill9AtEachStep(t, server == "replica", delivery)
			})
		}
	}
}

func kill9AtEachStep(t *testing.T, replica bool, delivery string) {
	const n, concurrency = 1000, 8
	rc := newCountingReceiver(t, 20*time.Millisecond)
	rc.failFirst = func(id string) bool { return strings.HasSuffix(id, "0") }
	natsURL := ""
	if replica {
		natsURL = testutil.StartJetStream(t, nil).URL()
	}
	h := newHarnessNATS(t, rc, "5s", natsURL, "delivery: "+delivery+"\n    retry: {schedule: [1s, 1s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s]}", "")
	kills := 0
	kill := func(step string) {
		t.Helper()
		if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = h.cmd.Wait()
		kills++
		u, total := rc.counts()
		t.Logf("kill %d (%s): %d unique, %d deliveries so far", kills, step, u, total)
	}
	progress := func(more int) func() bool {
		u0, _ := rc.counts()
		return func() bool { u, _ := rc.counts(); return u >= min(n, u0+more) }
	}
	retried := func() int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.tried)
	}

	h.start()
	h.publish(0, n/2)
	kill("matching and handing on")

	h.start()
	h.publish(n/2, n/2)
	testutil.WaitFor(t, 60*time.Second, "deliveries after the restart", progress(n/10))
	kill("mid-delivery")

	h.start()
	r0 := retried()
	testutil.WaitFor(t, 60*time.Second, "more first attempts failed, their retries waiting", func() bool { return retried() >= min(n/10, r0+5) })
	kill("retries waiting")

	h.start()
	testutil.WaitFor(t, 60*time.Second, "more deliveries", progress(n/10))
	kill("settling")

	h.start()
	testutil.WaitFor(t, 120*time.Second, fmt.Sprintf("all %d events after %d kills", n, kills), func() bool { u, _ := rc.counts(); return u == n })
	testutil.Holds(t, 500*time.Millisecond, "no event beyond those published", func() bool { u, _ := rc.counts(); return u == n })
	unique, total := rc.counts()
	rc.mu.Lock()
	invalid := rc.invalid
	rc.mu.Unlock()
	t.Logf("%d kills; %d unique, %d deliveries, %d duplicates, %d first attempts refused", kills, unique, total, total-unique, retried())
	if unique != n || invalid != 0 {
		t.Errorf("unique %d, invalid signatures %d", unique, invalid)
	}
	if bound := kills * concurrency; replica && delivery == "shared" && total-unique > bound {
		t.Errorf("%d duplicates after %d kills: more than the %d deliveries in flight at the kills (concurrency %d each)", total-unique, kills, bound, concurrency)
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
