package gateway_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// endToEndBench runs one sink end to end (publish → JetStream → dispatcher
// → driver → destination) and, in the same run, the raw ceiling: the same
// events sent by the same driver in the same batch size and concurrency
// straight to the same destination, with no NATS in between. arrivals
// returns the time each event id reached the destination.
func endToEndBench(b *testing.B, events int, sinkYAML string, arrivals func() map[string]time.Time, reset func()) {
	src := fmt.Sprintf(`
nats: {embedded: {listen: "127.0.0.1:0", store_dir: %q}}
admin: {listen: "127.0.0.1:0"}
sinks:
%s`, b.TempDir(), sinkYAML)
	cfg, err := config.Parse("bench.yaml", []byte(src), os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	go g.Run(ctx)
	sc := cfg.Sinks[0]
	drv, err := sink.Open(ctx, sc, sink.Env{})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close(ctx)
	batchSize := sink.Default.BatchSize(sc)
	payload := []byte(`{"order_id":12345,"amount_cents":4200,"currency":"EUR","items":[{"sku":"A-1","qty":2}]}`)

	// The receiver stamps each arrival, so how often this polls does not
	// change the latencies measured.
	waitAll := func(prefix string) map[string]time.Time {
		var got map[string]time.Time
		testutil.WaitFor(b, 2*time.Minute, fmt.Sprintf("%d %s events to arrive", events, prefix), func() bool {
			got = arrivals()
			n := 0
			for id := range got {
				if len(id) > len(prefix) && id[:len(prefix)] == prefix {
					n++
				}
			}
			return n >= events
		})
		return got
	}
	pct := func(sent, got map[string]time.Time) (time.Duration, time.Duration) {
		var l []time.Duration
		for id, t0 := range sent {
			l = append(l, got[id].Sub(t0))
		}
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return l[len(l)/2], l[len(l)*99/100]
	}

	var rawT, e2eT, rawP50, rawP99, e2eP50, e2eP99 time.Duration
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		reset()
		prefix := fmt.Sprintf("raw%d_", iter)
		sent := map[string]time.Time{}
		var mu sync.Mutex
		batches := make(chan []*event.Event, events)
		for i := 0; i < events; i += batchSize {
			var bt []*event.Event
			for j := i; j < min(i+batchSize, events); j++ {
				bt = append(bt, &event.Event{ID: fmt.Sprintf("%s%d", prefix, j), Type: "order.completed", Time: time.Now(), Data: payload})
			}
			batches <- bt
		}
		close(batches)
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < sc.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bt := range batches {
					now := time.Now()
					mu.Lock()
					for _, e := range bt {
						sent[e.ID] = now
					}
					mu.Unlock()
					if err := drv.Send(ctx, bt); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		got := waitAll(prefix)
		rawT += time.Since(start)
		p50, p99 := pct(sent, got)
		rawP50, rawP99 = rawP50+p50, rawP99+p99

		reset()
		prefix = fmt.Sprintf("e2e%d_", iter)
		sent = map[string]time.Time{}
		start = time.Now()
		var futures []jetstream.PubAckFuture
		for i := 0; i < events; i++ {
			m := nats.NewMsg("events.order.completed")
			id := fmt.Sprintf("%s%d", prefix, i)
			m.Header.Set(event.HeaderMsgID, id)
			m.Data = payload
			sent[id] = time.Now()
			f, err := g.Bus().JS.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		got = waitAll(prefix)
		e2eT += time.Since(start)
		p50, p99 = pct(sent, got)
		e2eP50, e2eP99 = e2eP50+p50, e2eP99+p99
	}
	b.StopTimer()
	n := float64(b.N)
	raw := float64(events) * n / rawT.Seconds()
	e2e := float64(events) * n / e2eT.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(e2e, "e2e_events/s")
	b.ReportMetric(raw, "raw_events/s")
	b.ReportMetric(e2e/raw, "e2e/raw")
	b.ReportMetric(float64(e2eP50.Microseconds())/n/1000, "e2e_p50_ms")
	b.ReportMetric(float64(e2eP99.Microseconds())/n/1000, "e2e_p99_ms")
	b.ReportMetric(float64(rawP50.Microseconds())/n/1000, "raw_p50_ms")
	b.ReportMetric(float64(rawP99.Microseconds())/n/1000, "raw_p99_ms")
}

// BenchmarkEventBridgeEndToEnd: PutEvents in batches of 10 to the
// protocol-faithful fake on loopback, through the AWS SDK.
func BenchmarkEventBridgeEndToEnd(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "testing")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	eb := fakeeb.New()
	defer eb.Close()
	arr := newArrivals()
	eb.OnEntry = func(e fakeeb.Entry, now time.Time) {
		var detail struct{ ID string }
		_ = json.Unmarshal([]byte(e.Detail), &detail)
		arr.record(detail.ID, now)
	}
	endToEndBench(b, 5000, fmt.Sprintf(`
  - name: bus
    events: [">"]
    concurrency: 16
    batch: {max_events: 10, max_wait: 5ms}
    eventbridge: {bus: default, region: us-east-1, source: com.example.bench, endpoint: %q}
`, eb.URL), arr.snapshot, func() {
		arr.reset()
		eb.Mu.Lock()
		eb.Entries, eb.Calls = nil, nil
		eb.Attempts = map[string]int{}
		eb.Mu.Unlock()
	})
}

// BenchmarkPubSubEndToEnd: the v2 client's batching to pstest on loopback.
func BenchmarkPubSubEndToEnd(b *testing.B) {
	ps := newPstest(b, "projects/proj/topics/bench")
	endToEndBench(b, 5000, fmt.Sprintf(`
  - name: topic
    events: [">"]
    concurrency: 16
    batch: {max_events: 100, max_wait: 5ms}
    pubsub: {project: proj, topic: bench, endpoint: %q}
`, ps.Addr), func() map[string]time.Time {
		out := map[string]time.Time{}
		for _, m := range ps.Messages() {
			out[m.Attributes["id"]] = m.PublishTime
		}
		return out
	}, func() { ps.ClearMessages() })
}

// BenchmarkWebhookEndToEnd: signed HTTPS POSTs, one event each, to a TLS
// receiver on loopback.
func BenchmarkWebhookEndToEnd(b *testing.B) {
	arr := newArrivals()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arr.record(r.Header.Get("webhook-id"), time.Now())
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	caFile := filepath.Join(b.TempDir(), "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	endToEndBench(b, 2000, fmt.Sprintf(`
  - name: bench
    events: [">"]
    concurrency: 16
    webhook: {url: %s, secrets: [%q], allow_private_networks: true, tls: {ca_file: %q}}
`, srv.URL, secret, caFile), arr.snapshot, arr.reset)
}

// arrivals records when each event id first reached a destination.
type arrivals struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newArrivals() *arrivals { return &arrivals{at: map[string]time.Time{}} }

func (a *arrivals) record(id string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.at[id]; !dup {
		a.at[id] = t
	}
}

func (a *arrivals) snapshot() map[string]time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]time.Time, len(a.at))
	for k, v := range a.at {
		out[k] = v
	}
	return out
}

func (a *arrivals) reset() {
	a.mu.Lock()
	a.at = map[string]time.Time{}
	a.mu.Unlock()
}
