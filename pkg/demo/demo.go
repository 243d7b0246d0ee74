// Package demo runs Switchyard end to end on one machine: an embedded
// JetStream, the gateway with one webhook sink, and a local HTTPS receiver
// that verifies every signature and fails some attempts on purpose.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/receiver"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/webhook" // the demo's one sink
)

// Options for one demo run.
type Options struct {
	Events  int
	Out     io.Writer
	Live    bool // redraw one progress line instead of printing a line a second
	Version string
	Timeout time.Duration
}

// Summary is what the demo measured.
type Summary struct {
	Published, Delivered, Verified, Invalid, Retried, DeadLettered, Duplicates int
	P50, P99                                                                   time.Duration
	Elapsed                                                                    time.Duration
}

// script makes the receiver's failures the same on every run: about one
// event in eight fails its first attempt (503 + Retry-After or 500), one in
// twenty-five fails twice, and one in a hundred is answered 410 Gone, which
// dead-letters it at once.
var script = func(id string, n int) int {
	var h uint32
	for i := 0; i < len(id); i++ {
		h = h*31 + uint32(id[i])
	}
	switch {
	case h%100 == 7:
		return 410
	case h%25 == 3 && n <= 2:
		return 500
	case h%8 == 1 && n == 1:
		return 503
	}
	return 0
}

type tally struct {
	mu         sync.Mutex
	delivered  map[string]time.Duration // id → latency of its first 2xx
	duplicates int
	verified   int
	invalid    int
	failed     int
}

// Run runs the demo and prints its progress and summary.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Events <= 0 {
		opts.Events = 300
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	out := opts.Out
	dir, err := os.MkdirTemp("", "switchyard-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	secret := newSecret()
	t := &tally{delivered: map[string]time.Duration{}}
	rcv, err := receiver.New(receiver.Options{Secrets: []string{secret}, Script: script, OnDelivery: func(d receiver.Delivery) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if d.Valid {
			t.verified++
		} else {
			t.invalid++
		}
		if d.Status >= 300 {
			t.failed++
			return
		}
		if _, dup := t.delivered[d.ID]; dup {
			t.duplicates++
			return
		}
		t.delivered[d.ID] = d.Latency
	}})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewTLSServer(rcv)
	defer srv.Close()
	caFile := filepath.Join(dir, "receiver-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		return nil, err
	}

	src := fmt.Sprintf(`
nats:
  embedded: {listen: "127.0.0.1:0", store_dir: %q}
admin: {listen: "127.0.0.1:0"}
shutdown_grace: 2s
sinks:
  - name: demo
    events: [">"]
    concurrency: 16
    retry: {schedule: [250ms, 500ms, 1s]}
    webhook:
      url: %s/hooks
      secrets: [%q]
      timeout: 5s
      allow_private_networks: true   # the demo receiver is on loopback
      tls: {ca_file: %q}
`, filepath.Join(dir, "jetstream"), srv.URL, secret, caFile)
	cfg, err := config.Parse("demo.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		return nil, err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	g, err := gateway.New(gctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: opts.Version})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(gctx) }()
	defer func() { stop(); <-done }()

	fmt.Fprintf(out, "Switchyard demo\n  JetStream (embedded): %s\n  receiver (HTTPS, verifies signatures): %s/hooks\n  admin API: http://%s\n\n", g.Bus().ClientURL(), srv.URL, g.AdminAddr())

	start := time.Now()
	types := []string{"order.created", "order.completed", "invoice.paid", "user.signup"}
	for i := 0; i < opts.Events; i++ {
		m := nats.NewMsg("events." + types[i%len(types)])
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("demo_%04d", i))
		m.Header.Set(event.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
		m.Header.Set(event.HeaderSource, "switchyard-demo")
		m.Data = fmt.Appendf(nil, `{"n":%d,"amount_cents":%d}`, i, 1000+i*7)
		if _, err := g.Bus().JS.PublishMsg(ctx, m); err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
	}

	deadline := time.After(opts.Timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	lastLine := time.Time{}
	var dead int
	for {
		recs, err := g.DeadLetters(ctx, "demo", 0)
		if err == nil {
			dead = len(recs)
		}
		t.mu.Lock()
		delivered, failed := len(t.delivered), t.failed
		t.mu.Unlock()
		line := progress(opts.Events, delivered, failed, dead, time.Since(start))
		if opts.Live {
			fmt.Fprintf(out, "\r%s", line)
		} else if time.Since(lastLine) >= time.Second {
			fmt.Fprintln(out, line)
			lastLine = time.Now()
		}
		if delivered+dead >= opts.Events {
			if opts.Live {
				fmt.Fprintln(out)
			}
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, fmt.Errorf("demo: only %d of %d events settled after %s", delivered+dead, opts.Events, opts.Timeout)
		case <-tick.C:
		}
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	lat := make([]time.Duration, 0, len(t.delivered))
	for _, l := range t.delivered {
		lat = append(lat, l)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	s := &Summary{Published: opts.Events, Delivered: len(t.delivered), Verified: t.verified, Invalid: t.invalid,
		Retried: t.failed - dead, DeadLettered: dead, Duplicates: t.duplicates,
		P50: percentile(lat, 0.50), P99: percentile(lat, 0.99), Elapsed: time.Since(start)}
	fmt.Fprintf(out, `
Summary
  published      %d
  delivered      %d (each once: %d duplicates)
  verified       %d signatures valid, %d invalid
  retried        %d failed attempts retried by JetStream redelivery
  dead-lettered  %d (receiver answered 410 Gone; see GET /v1/sinks/demo/dead-letters)
  latency        p50 %s, p99 %s (publish to receipt, retries included)
  took           %s
`, s.Published, s.Delivered, s.Duplicates, s.Verified, s.Invalid, s.Retried, s.DeadLettered,
		s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond), s.Elapsed.Round(time.Millisecond))
	return s, nil
}

func progress(total, delivered, failed, dead int, elapsed time.Duration) string {
	const width = 30
	done := delivered + dead
	filled := width * done / total
	return fmt.Sprintf("[%s%s] %d/%d settled  delivered %d  failed attempts %d  dead-lettered %d  %s",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, delivered, failed, dead, elapsed.Round(100*time.Millisecond))
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}
