// Package demo runs Switchyard end to end on one machine: an embedded
// JetStream, the gateway with one sink, and a local destination (an HTTPS
// receiver that verifies every signature, or an EventBridge or Pub/Sub
// fake) that fails some attempts on purpose.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all" // the demo's sinks
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Options for one demo run.
type Options struct {
	// Sink is the destination: webhook (default), eventbridge or pubsub.
	Sink    string
	Events  int
	Out     io.Writer
	Live    bool // redraw one progress line instead of printing a line a second
	Version string
	Timeout time.Duration
	// Keep leaves the demo running after the summary, publishing an event
	// a second, until ctx ends (Ctrl-C), so the console shows a live system.
	Keep bool
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
func script(id string, n int) int {
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
	delivered  map[string]time.Duration // id → latency of its first acceptance
	duplicates int
	verified   int
	invalid    int
	failed     int
}

// accept records an event the destination took; call with mu held.
func (t *tally) accept(id string, latency time.Duration) {
	if _, dup := t.delivered[id]; dup {
		t.duplicates++
		return
	}
	t.delivered[id] = latency
}

// Run runs the demo and prints its progress and summary.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if opts.Events <= 0 {
		opts.Events = 300
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Sink == "" {
		opts.Sink = "webhook"
	}
	out := opts.Out
	dir, err := os.MkdirTemp("", "switchyard-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	t := &tally{delivered: map[string]time.Duration{}}
	dest, err := openDestination(opts.Sink, t, dir)
	if err != nil {
		return nil, err
	}
	defer dest.close()

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
    breaker: {cool_down: 1s}   # the scripted failures can trip it; keep the demo short
%s`, filepath.Join(dir, "jetstream"), dest.sinkYAML)
	kinds := sink.Default.Clone()
	if dest.kinds != nil {
		dest.kinds(kinds)
	}
	cfg, err := config.Loader{Kinds: kinds}.Parse("demo.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		return nil, err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	g, err := gateway.New(gctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: opts.Version, Sinks: kinds})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(gctx) }()
	defer func() { stop(); <-done }()

	fmt.Fprintf(out, "Switchyard demo (%s sink)\n  JetStream (embedded): %s\n  %s\n  admin API: http://%s\n  console: http://%s/\n\n", opts.Sink, g.Bus().ClientURL(), dest.describe, g.AdminAddr(), g.AdminAddr())

	start := time.Now()
	types := []string{"order.created", "order.completed", "invoice.paid", "user.signup"}
	for i := 0; i < opts.Events; i++ {
		m := nats.NewMsg(subject.Event(types[i%len(types)]))
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
		recs, err := g.Admin().DeadLetters.DeadLetters(ctx, "demo", deadletter.Filter{})
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
	lat := make([]time.Duration, 0, len(t.delivered))
	for _, l := range t.delivered {
		lat = append(lat, l)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	s := &Summary{Published: opts.Events, Delivered: len(t.delivered), Verified: t.verified, Invalid: t.invalid,
		Retried: t.failed - dead, DeadLettered: dead, Duplicates: t.duplicates,
		P50: percentile(lat, 0.50), P99: percentile(lat, 0.99), Elapsed: time.Since(start)}
	t.mu.Unlock() // the receiver still counts while a kept demo runs
	fmt.Fprintf(out, "\nSummary\n  published      %d\n  delivered      %d (each once: %d duplicates)\n", s.Published, s.Delivered, s.Duplicates)
	if opts.Sink == "webhook" {
		fmt.Fprintf(out, "  verified       %d signatures valid, %d invalid\n", s.Verified, s.Invalid)
	}
	fmt.Fprintf(out, "  retried        %d failed attempts retried by JetStream redelivery\n", s.Retried)
	fmt.Fprintf(out, "  dead-lettered  %d (refused permanently on purpose; see GET /v1/sinks/demo/dead-letters)\n", s.DeadLettered)
	fmt.Fprintf(out, "  latency        p50 %s, p99 %s (publish to receipt, retries included)\n  took           %s\n",
		s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond), s.Elapsed.Round(time.Millisecond))
	if opts.Keep {
		fmt.Fprintf(out, "\nConsole: http://%s/\nThe demo keeps running, publishing an event a second; Ctrl-C stops it.\n", g.AdminAddr())
		keepPublishing(ctx, g.Bus().JS, types, opts.Events)
	}
	return s, nil
}

// keepPublishing publishes one event a second, ids after the scripted
// ones, until ctx ends.
func keepPublishing(ctx context.Context, js jetstream.JetStream, types []string, from int) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := from; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m := nats.NewMsg(subject.Event(types[i%len(types)]))
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("demo_%04d", i))
		m.Header.Set(event.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
		m.Data = []byte(fmt.Sprintf(`{"n":%d,"live":true}`, i))
		_, _ = js.PublishMsg(ctx, m) // a failed publish during Ctrl-C is of no interest
	}
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
