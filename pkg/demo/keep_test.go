package demo_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/demo"
)

// With Keep, the demo prints the console's URL after its summary, serves
// the console there and keeps publishing until its context ends.
func TestDemoKeepServesTheConsoleUntilCanceled(t *testing.T) {
	var out testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{Events: 20, Out: &out, Keep: true})
		done <- err
	}()
	re := regexp.MustCompile(`Console: (http://127\.0\.0\.1:\d+/)`)
	testutil.WaitFor(t, 60*time.Second, "the console URL", func() bool { return re.MatchString(out.String()) })
	url := re.FindStringSubmatch(out.String())[1]

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `data-sink="demo"`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("%s %v\n%s", resp.Status, resp.Header, body)
	}
	// Still running: the live events keep arriving.
	testutil.WaitFor(t, 10*time.Second, "a live event", func() bool {
		resp, err := http.Get(url + "events/demo_0021")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	select {
	case err := <-done:
		t.Fatalf("the demo ended while kept: %v\n%s", err, out.String())
	default:
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the demo did not stop after cancel")
	}
}
