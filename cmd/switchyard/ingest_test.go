package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

const cliIngestToken = "cli-ingest-token-0123456789"

// newIngestHarness is a harness whose gateway also serves the ingest API;
// it returns the API's /v1/events URL.
func newIngestHarness(t *testing.T, rc *countingReceiver) (*harness, string) {
	port := testutil.FreePort(t)
	// The ingest block follows the sink list as a top-level key.
	h := newHarnessWith(t, rc, "2s", fmt.Sprintf("ingest:\n  listen: \"127.0.0.1:%d\"\n  tokens: [{name: cli, token: %q}]\n", port, cliIngestToken))
	return h, fmt.Sprintf("http://127.0.0.1:%d/v1/events", port)
}

// `publish --url http://…/v1/events` goes through the ingest API.
func TestPublishCommandOverHTTP(t *testing.T) {
	rc := newCountingReceiver(t, 0)
	h, url := newIngestHarness(t, rc)
	h.start()
	out, err := exec.Command(binary, "publish", "--url", url, "--token", cliIngestToken, "--type", "order.completed",
		"--data", `{"id":1}`, "--id", "http", "--count", "3").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "published http-1 (order.completed) through "+url) {
		t.Errorf("output: %s", out)
	}
	testutil.WaitFor(t, 10*time.Second, "3 deliveries", func() bool { u, _ := rc.counts(); return u == 3 })
	out, err = exec.Command(binary, "publish", "--url", url, "--token", "wrong-token-0123456789", "--type", "a").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("wrong token: %v %s", err, out)
	}
	// `status` shows the ingest counts beside the sinks.
	out, err = exec.Command(binary, "status", "--admin", h.admin).CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v: %s", err, out)
	}
	var cliRow, unknownRow []string
	for _, line := range strings.Split(string(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 2 && f[0] == "token" && f[1] == "cli":
			cliRow = f
		case len(f) > 2 && f[0] == "token" && f[1] == "unknown":
			unknownRow = f
		}
	}
	// INGEST NAME REQUESTS EVENTS-STORED DUPLICATES UNAVAILABLE UNAUTHORIZED …
	if !strings.Contains(string(out), "INGEST") || len(cliRow) < 7 || cliRow[2] != "1" || cliRow[3] != "3" || len(unknownRow) < 7 || unknownRow[6] != "1" {
		t.Errorf("status output lacks the ingest counts (cli: 1 request, 3 events; unknown: 1 unauthorized):\n%s", out)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range []string{"http-1", "http-2", "http-3"} {
		if rc.seen[id] != 1 {
			t.Errorf("%s delivered %d times", id, rc.seen[id])
		}
	}
}

// kill -9 while producers are posting: every event answered 202 before
// the kill is delivered after the restart.
func TestKill9AfterAcceptedLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	rc := newCountingReceiver(t, 0)
	h, url := newIngestHarness(t, rc)
	cmd := h.start()

	var mu sync.Mutex
	var accepted []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for batch := 0; batch < 10000; batch++ {
				select {
				case <-stop:
					return
				default:
				}
				var events []map[string]any
				for i := range 20 {
					events = append(events, map[string]any{"type": "order.completed", "id": fmt.Sprintf("k9-%d-%d-%d", w, batch, i), "data": map[string]int{"i": i}})
				}
				body, _ := json.Marshal(events)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+cliIngestToken)
				resp, err := client.Do(req)
				if err != nil {
					return // the gateway is gone
				}
				var acc struct{ IDs []string }
				_ = json.NewDecoder(resp.Body).Decode(&acc)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					accepted = append(accepted, acc.IDs...)
					mu.Unlock()
				}
			}
		}()
	}
	testutil.WaitFor(t, 20*time.Second, "some accepted events", func() bool { mu.Lock(); defer mu.Unlock(); return len(accepted) >= 400 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	ids := append([]string(nil), accepted...)
	mu.Unlock()

	h.start()
	missing := func() []string {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		var out []string
		for _, id := range ids {
			if rc.seen[id] == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("all %d accepted events after the restart", len(ids)), func() bool { return len(missing()) == 0 })
	t.Logf("killed after %d events answered 202; all delivered after the restart", len(ids))
}
