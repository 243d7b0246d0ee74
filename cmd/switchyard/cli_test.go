package main_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "switchyard ") {
		t.Fatalf("%v: %s", err, out)
	}
}

// `publish` reaches a running gateway, which delivers what it published.
func TestPublishCommandReachesSinks(t *testing.T) {
	rc := newCountingReceiver(t, 0)
	h := newHarness(t, rc, "2s")
	h.start()
	out, err := exec.Command(binary, "publish", "--url", h.natsURL, "--type", "order.completed",
		"--data", `{"id":1}`, "--id", "cli", "--count", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "published cli-1 to events.order.completed") {
		t.Errorf("output: %s", out)
	}
	testutil.WaitFor(t, 10*time.Second, "3 deliveries", func() bool { u, _ := rc.counts(); return u == 3 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range []string{"cli-1", "cli-2", "cli-3"} {
		if rc.seen[id] != 1 {
			t.Errorf("%s delivered %d times", id, rc.seen[id])
		}
	}
}

// `listen` verifies what it receives and says so, one line per request.
func TestListenCommandVerifies(t *testing.T) {
	port := testutil.FreePort(t)
	cmd := exec.Command(binary, "listen", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--secret", secret)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	lines.Scan() // "listening on …"

	keys, _ := signing.NewKeys(secret)
	wrong, _ := signing.NewKeys("whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24=")
	body := []byte(`{"id":"evt_9","type":"order.completed","timestamp":"2026-11-23T10:00:00Z","data":{}}`)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var codes []int
	for _, k := range []*signing.Keys{keys, wrong} {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		k.SetHeaders(req.Header, "evt_9", time.Now(), body)
		var resp *http.Response
		var err error
		testutil.Poll(2500*time.Millisecond, func() bool { // the listener may still be binding
			if resp, err = http.DefaultClient.Do(req); err == nil {
				return true
			}
			req, _ = http.NewRequest("POST", url, bytes.NewReader(body))
			k.SetHeaders(req.Header, "evt_9", time.Now(), body)
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 204 || codes[1] != 401 {
		t.Errorf("statuses %v, want [204 401]", codes)
	}
	lines.Scan()
	if l := lines.Text(); !strings.Contains(l, "evt_9  order.completed  attempt 1  valid") {
		t.Errorf("line 1: %q", l)
	}
	lines.Scan()
	if l := lines.Text(); !strings.Contains(l, "INVALID") {
		t.Errorf("line 2: %q", l)
	}
}

// The operator commands against a running gateway: pause holds events,
// status shows it, resume drains, dlq lists.
func TestOperatorCommands(t *testing.T) {
	rc := newCountingReceiver(t, 0)
	h := newHarness(t, rc, "2s")
	h.start()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, append(args, "--admin", h.admin)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	testutil.WaitFor(t, 10*time.Second, "admin API", func() bool {
		return exec.Command(binary, "status", "--admin", h.admin).Run() == nil
	})
	if out := run("sinks", "pause", "crash", "--reason", "maintenance"); !strings.Contains(out, "paused") {
		t.Errorf("pause: %s", out)
	}
	if out := run("status"); !strings.Contains(out, "crash") || !strings.Contains(out, "paused") || !strings.Contains(out, "DELIVERY") || !strings.Contains(out, "dedicated") {
		t.Errorf("status:\n%s", out)
	}
	h.publish(0, 3)
	// A running sink delivers these within milliseconds: 300ms of
	// silence shows the pause holds them.
	testutil.Holds(t, 300*time.Millisecond, "no delivery while paused", func() bool { u, _ := rc.counts(); return u == 0 })
	if u, _ := rc.counts(); u != 0 {
		t.Fatalf("%d delivered while paused", u)
	}
	run("sinks", "resume", "crash")
	testutil.WaitFor(t, 10*time.Second, "delivery after resume", func() bool { u, _ := rc.counts(); return u == 3 })
	testutil.WaitFor(t, 5*time.Second, "the attempt log", func() bool {
		return strings.Contains(run("attempts", "--sink", "crash", "--outcome", "delivered"), "evt-00002")
	})
	if out := run("replay", "--sink", "crash", "--since", "1m"); !strings.Contains(out, "done: 3 events") {
		t.Errorf("replay: %s", out)
	}
	testutil.WaitFor(t, 5*time.Second, "the replayed events", func() bool { _, total := rc.counts(); return total == 6 })
	if out := run("dlq", "list", "crash"); !strings.HasPrefix(out, "SEQ") {
		t.Errorf("dlq list: %s", out)
	}
	if _, err := exec.Command(binary, "dlq", "purge", "crash", "--admin", h.admin).CombinedOutput(); err == nil {
		t.Error("purge without --yes succeeded")
	}

	// The endpoints API from the CLI: create from YAML, test, patch,
	// rotate, history, delete.
	dir := t.TempDir()
	def := filepath.Join(dir, "sink.yaml")
	_ = os.WriteFile(def, []byte(fmt.Sprintf("name: cli\nevents: [\"cli.*\"]\ntenant: acme\nwebhook:\n  url: %s/cli\n  secrets: [%q]\n  allow_private_networks: true\n  tls: {ca_file: %q}\n", rc.srv.URL, secret, rc.caFile)), 0o600)
	if out := run("sinks", "create", "-f", def); strings.Contains(out, "whsec_") || !strings.Contains(out, `"source": "api"`) || !strings.Contains(out, `"tenant": "acme"`) || !strings.Contains(out, `"delivery": "shared"`) {
		t.Errorf("sinks create:\n%s", out)
	}
	if out := run("sinks", "list"); !regexp.MustCompile(`(?m)^cli +webhook +shared `).MatchString(out) {
		t.Errorf("sinks list: an API sink created without a delivery is not shown shared:\n%s", out)
	}
	if out := run("sinks", "test", "cli"); !strings.Contains(out, `"ok": true`) {
		t.Errorf("sinks test:\n%s", out)
	}
	patch := filepath.Join(dir, "patch.json")
	_ = os.WriteFile(patch, []byte(`{"description": "patched from the CLI"}`), 0o600)
	if out := run("sinks", "update", "cli", "-f", patch); !strings.Contains(out, "patched from the CLI") || strings.Contains(out, "whsec_") {
		t.Errorf("sinks update:\n%s", out)
	}
	if out := run("sinks", "rotate-secret", "cli", "--grace", "1h"); !strings.Contains(out, "new secret: whsec_") {
		t.Errorf("rotate-secret:\n%s", out)
	}
	if out := run("sinks", "history", "cli"); !strings.Contains(out, `"op": "rotate"`) || strings.Contains(out, "whsec_") {
		t.Errorf("history:\n%s", out)
	}
	if out := run("sinks", "delete", "cli"); !strings.Contains(out, "deleted") {
		t.Errorf("delete: %s", out)
	}
	if out, err := exec.Command(binary, "sinks", "delete", "crash", "--admin", h.admin).CombinedOutput(); err == nil || !strings.Contains(string(out), "409") {
		t.Errorf("deleting a YAML sink: %v %s", err, out)
	}
}

// SIGHUP reloads the file; `validate --against` shows the plan first; a
// broken file is refused and the running config kept.
func TestReloadOnSIGHUP(t *testing.T) {
	rc := newCountingReceiver(t, 0)
	h := newHarness(t, rc, "2s")
	cmd := h.start()
	orig, _ := os.ReadFile(h.cfgPath)
	extra := strings.Replace(string(orig[strings.Index(string(orig), "  - name: crash"):]), "name: crash", "name: extra", 1)
	next := filepath.Join(filepath.Dir(h.cfgPath), "next.yaml")
	os.WriteFile(next, append(append([]byte{}, orig...), extra...), 0o600)
	testutil.WaitFor(t, 10*time.Second, "admin API", func() bool {
		return exec.Command(binary, "status", "--admin", h.admin).Run() == nil
	})
	out, err := exec.Command(binary, "validate", "--config", next, "--against", h.admin).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "+ sink extra") {
		t.Fatalf("plan: %v\n%s", err, out)
	}

	refusals := func() int { b, _ := os.ReadFile(h.logs.Name()); return strings.Count(string(b), "reload refused") }
	refused := refusals()
	os.WriteFile(h.cfgPath, []byte("sinks: [{name: broken"), 0o600)
	_ = cmd.Process.Signal(syscall.SIGHUP)
	testutil.WaitFor(t, 10*time.Second, "the broken config refused", func() bool { return refusals() > refused })
	h.publish(0, 1)
	testutil.WaitFor(t, 10*time.Second, "delivery with the running config kept", func() bool { u, _ := rc.counts(); return u == 1 })

	b, _ := os.ReadFile(next)
	os.WriteFile(h.cfgPath, b, 0o600)
	_ = cmd.Process.Signal(syscall.SIGHUP)
	testutil.WaitFor(t, 10*time.Second, "the new sink", func() bool {
		out, _ := exec.Command(binary, "sinks", "list", "--admin", h.admin).CombinedOutput()
		return strings.Contains(string(out), "extra")
	})
	h.publish(1, 1)
	testutil.WaitFor(t, 10*time.Second, "delivery to both sinks", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.seen["evt-00001"] == 2
	})
}
