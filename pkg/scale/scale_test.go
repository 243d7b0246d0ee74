package scale

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is switchyard built from this tree, the gateway the harness runs.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchyard-scale-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "switchyard")
	if out, err := exec.Command("go", "build", "-o", binary, "github.com/switchyard-dev/switchyard/cmd/switchyard").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// small is the harness at a size CI runs: 100 endpoints over 10 tenants,
// 2 clients, short settle and idle windows.
func small(t *testing.T) Options {
	if testing.Short() {
		t.Skip("runs the gateway as a child process")
	}
	var progress bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
		}
	})
	o := Defaults()
	o.Binary, o.Endpoints, o.Tenants, o.Clients = binary, 100, 10, 2
	o.Settle, o.Idle, o.FanoutWithin, o.Later = time.Second, time.Second, 30*time.Second, time.Second
	o.CreateTimeout = time.Minute
	o.Command = "go test ./pkg/scale -run " + t.Name()
	o.Progress = &progress
	return o
}

func report(t *testing.T, rep *Report) {
	t.Helper()
	var b strings.Builder
	rep.WriteSummary(&b)
	t.Logf("\n%s", b.String())
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
}

// Every endpoint is created and every event reaches every endpoint of its
// tenant, in either delivery; the figures are all read (memory, CPU,
// goroutines, consumers, each sink's delivery).
func TestScaleSmall(t *testing.T) {
	for _, delivery := range []string{"dedicated", "shared"} {
		t.Run(delivery, func(t *testing.T) { testScaleSmall(t, delivery) })
	}
}

func testScaleSmall(t *testing.T, delivery string) {
	o := small(t)
	o.Delivery = delivery
	o.HeapProfile = filepath.Join(t.TempDir(), "heap")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if rep != nil {
		report(t, rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.Create.OK != o.Endpoints || rep.Create.Failed != 0 {
		t.Errorf("created %d of %d (%d failed: %s)", rep.Create.OK, o.Endpoints, rep.Create.Failed, rep.Create.FirstError)
	}
	if f := rep.Fanout; f == nil || f.Expected != o.Endpoints || f.Delivered != f.Expected {
		t.Errorf("fan-out: %+v, want all %d deliveries", f, o.Endpoints)
	}
	if rep.Memory.RSSBeforeMB <= 0 || rep.Memory.RSSAfterMB <= 0 || rep.Goroutines.Before <= 0 || rep.Goroutines.After <= 0 ||
		rep.Consumers.Before < 0 || rep.Consumers.After < 0 || rep.Memory.HeapBeforeMB <= 0 || rep.Memory.HeapLaterMB <= 0 {
		t.Errorf("memory %+v, goroutines %+v, consumers %+v: not read", rep.Memory, rep.Goroutines, rep.Consumers)
	}
	for _, name := range []string{"before", "idle", "later"} {
		if fi, err := os.Stat(o.HeapProfile + "." + name + ".pprof"); err != nil || fi.Size() == 0 {
			t.Errorf("heap profile %s: %v", name, err)
		}
	}
	if rep.Modes[delivery] != o.Endpoints {
		t.Errorf("sinks by delivery: %v", rep.Modes)
	}
}

// The isolation run (the server's default delivery), on a shorter clock: healthy endpoints get every
// event, every event of a failing or hanging endpoint is tried and none
// is dead-lettered, a paused endpoint gets nothing until its resume and
// everything after it.
func TestScaleFaultySmall(t *testing.T) {
	o := small(t)
	o.Faulty = true
	o.iso = isoClock{window: 15 * time.Second, resumeAfter: 3 * time.Second, resumeWindow: 10 * time.Second, deadLettersAt: 15 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if rep != nil {
		report(t, rep)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.Create.OK != o.Endpoints {
		t.Fatalf("created %d of %d: %s", rep.Create.OK, o.Endpoints, rep.Create.FirstError)
	}
	is := rep.Isolation
	if is == nil {
		t.Fatal("no isolation report")
	}
	// 100 endpoints: 10 answer 503, 10 hang, 2 are paused, 78 are healthy.
	for _, g := range []struct {
		name string
		g    Group
		n    int
	}{{"healthy", is.Healthy, 78}, {"503", is.Failing, 10}, {"hanging", is.Hanging, 10}, {"paused", is.Paused, 2}} {
		if g.g.Endpoints != g.n || g.g.Expected != g.n*eventsPerTenant {
			t.Errorf("%s: %d endpoints, %d expected; want %d, %d", g.name, g.g.Endpoints, g.g.Expected, g.n, g.n*eventsPerTenant)
		}
		if g.g.Within != g.g.Expected {
			t.Errorf("%s: %d of %d within the window", g.name, g.g.Within, g.g.Expected)
		}
		if g.g.DeadLetters != 0 {
			t.Errorf("%s: %d dead letters", g.name, g.g.DeadLetters)
		}
	}
	if is.Paused.WhilePaused != 0 {
		t.Errorf("paused endpoints received %d events while paused", is.Paused.WhilePaused)
	}
}
