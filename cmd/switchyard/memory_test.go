package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// heapBudgetPerInFlight is the gateway's budget of heap per event
// it holds in flight (pulled, rendered, sent, not yet answered).
const heapBudgetPerInFlight = 12 << 10

// The gateway, a child process on an external nats-server so that its heap
// is its own, holds `inFlight` 1 KiB events at once against a receiver
// that answers none until they are all in; its live heap (after a
// collection, read from its own /debug/pprof/heap) then, less the heap of
// the same gateway idle, divided by the events, must stay within the
// budget. Goroutine stacks are reported beside it (they are not heap).
func TestHeapPerInFlightEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gateway as a child process")
	}
	const inFlight = 400
	ns := testutil.StartJetStream(t, nil)

	var held atomic.Int64
	release := make(chan struct{})
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		<-release
	}))
	defer rc.Close()
	defer close(release) // before rc.Close: the handlers must return

	dir := t.TempDir()
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := fmt.Sprintf(`
nats: {url: %q}
admin: {listen: %q}
log: {level: warn}
sinks:
  - name: held
    events: [">"]
    concurrency: %d
    ack_wait: 2m
    webhook: {url: %q, secrets: [%q], timeout: 90s, allow_private_networks: true}
`, ns.URL(), admin, inFlight, rc.URL+"/hook", secret)
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run", "--config", path)
	logs, _ := os.Create(filepath.Join(dir, "switchyard.log"))
	defer func() {
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("gateway logs:\n%s", tail(string(b), 40))
		}
	}()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	testutil.WaitFor(t, 30*time.Second, "the gateway to be ready", func() bool {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	idle := liveHeap(t, admin)
	saveHeapProfile(t, admin, "idle")
	js := ns.JS
	pad := strings.Repeat("x", 1024-len(`{"n":10000,"pad":""}`))
	for i := range inFlight {
		m := nats.NewMsg("events.order.created")
		m.Header.Set("Nats-Msg-Id", fmt.Sprintf("mem-%05d", i))
		m.Data = fmt.Appendf(nil, `{"n":%d,"pad":%q}`, 10000+i, pad) // valid JSON: spliced into the envelope
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("%d requests held at the receiver", inFlight), func() bool { return held.Load() == inFlight })
	busy := liveHeap(t, admin)
	saveHeapProfile(t, admin, "in-flight")

	perEvent := (busy.heap - idle.heap) / inFlight
	t.Logf("%d events in flight: live heap %.1f MB → %.1f MB: %.1f KB per event in flight (budget %d KB); goroutine stacks %.1f MB → %.1f MB: %.1f KB per event",
		inFlight, mbf(idle.heap), mbf(busy.heap), float64(perEvent)/1024, heapBudgetPerInFlight>>10,
		mbf(idle.stack), mbf(busy.stack), float64((busy.stack-idle.stack)/inFlight)/1024)
	if perEvent > heapBudgetPerInFlight {
		t.Errorf("%.1f KB of heap per event in flight, over the budget of %d KB", float64(perEvent)/1024, heapBudgetPerInFlight>>10)
	}
}

type memory struct{ heap, stack int64 }

func mbf(b int64) float64 { return float64(b) / (1 << 20) }

// liveHeap reads the gateway's heap after a collection (gc=1) and its
// stacks from the MemStats that /debug/pprof/heap?debug=1 ends with; the
// least of three readings, so that a collection's stragglers do not count.
func liveHeap(t *testing.T, admin string) memory {
	t.Helper()
	var best memory
	for i := range 3 {
		resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			t.Fatal(err)
		}
		var m memory
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
				m.heap, _ = strconv.ParseInt(v, 10, 64)
			}
			if v, ok := strings.CutPrefix(sc.Text(), "# Stack = "); ok { // "# Stack = inuse / sys"
				m.stack, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			}
		}
		resp.Body.Close()
		if m.heap == 0 {
			t.Fatal("no HeapAlloc in /debug/pprof/heap?debug=1")
		}
		if i == 0 || m.heap < best.heap {
			best = m
		}
	}
	return best
}

// saveHeapProfile keeps the gateway's heap profile in
// $SWITCHYARD_PROFILE_DIR/heap.NAME.pprof when that is set: go tool pprof
// -sample_index=inuse_space -diff_base heap.idle.pprof heap.in-flight.pprof
// shows where the memory of the events in flight is.
func saveHeapProfile(t *testing.T, admin, name string) {
	dir := os.Getenv("SWITCHYARD_PROFILE_DIR")
	if dir == "" {
		return
	}
	resp, err := http.Get("http://" + admin + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "heap."+name+".pprof"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
