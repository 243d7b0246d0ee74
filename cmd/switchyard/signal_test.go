package main_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// Ctrl-C on `switchyard replay` cancels the replay on the server, not only
// the client: main runs every command with a context that SIGINT cancels.
func TestReplaySIGINTCancelsOnServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binary")
	}
	rc := newCountingReceiver(t, 0)
	h := newHarness(t, rc, "2s")
	h.start()
	h.publish(0, 40)
	testutil.WaitFor(t, 20*time.Second, "first deliveries", func() bool { u, _ := rc.counts(); return u == 40 })
	rc.mu.Lock()
	rc.delay = time.Second // the replay now takes several seconds
	rc.mu.Unlock()

	cmd := exec.Command(binary, "replay", "--sink", "crash", "--since", "1h", "--admin", h.admin)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "replay ") {
		t.Fatalf("first line %q", lines.Text())
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(lines.Text(), "replay "), ":")
	// The client reports each poll (every 500ms) on a line of its own:
	// once one is out, it is in its poll loop.
	if !lines.Scan() {
		t.Fatalf("no progress line: %v", lines.Err())
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("replay exited with %v:\n%s", err, rest.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("replay did not exit after SIGINT")
	}
	if !strings.Contains(rest.String(), "replay "+id+" canceled after") {
		t.Errorf("output after SIGINT:\n%s", rest.String())
	}
	resp, err := http.Get(h.admin + "/v1/replays/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ State string }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.State != "canceled" {
		t.Fatalf("replay %s on the server: %+v, %v", id, st, err)
	}
}
