package gateway_test

import (
	"context"
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

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

const benchEvents = 2000
const benchConcurrency = 16

// stamps records when each event id first arrived.
type stamps struct {
	mu   sync.Mutex
	at   map[string]time.Time
	done chan struct{}
	want int
}

func (s *stamps) handler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now()
	id := r.Header.Get("webhook-id")
	s.mu.Lock()
	if _, dup := s.at[id]; !dup {
		s.at[id] = now
		if len(s.at) == s.want {
			close(s.done)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *stamps) reset(want int) {
	s.mu.Lock()
	s.at, s.done, s.want = map[string]time.Time{}, make(chan struct{}), want
	s.mu.Unlock()
}

func latencies(sent map[string]time.Time, got map[string]time.Time) (p50, p99 time.Duration) {
	l := make([]time.Duration, 0, len(got))
	for id, t := range got {
		l = append(l, t.Sub(sent[id]))
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)/2], l[len(l)*99/100]
}

// BenchmarkWebhookEndToEnd measures publish → JetStream → dispatcher →
// signed HTTPS POST → receiver, and in the same run the raw ceiling: the
// same number of signed POSTs sent straight to the same receiver by the
// same driver with the same concurrency, with no NATS in between.
func BenchmarkWebhookEndToEnd(b *testing.B) {
	st := &stamps{}
	srv := httptest.NewTLSServer(http.HandlerFunc(st.handler))
	defer srv.Close()
	caFile := filepath.Join(b.TempDir(), "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)

	src := fmt.Sprintf(`
nats: {embedded: {listen: "127.0.0.1:0", store_dir: %q}}
admin: {listen: "127.0.0.1:0"}
sinks:
  - name: bench
    events: [">"]
    concurrency: %d
    webhook: {url: %s, secrets: [%q], allow_private_networks: true, tls: {ca_file: %q}}
`, b.TempDir(), benchConcurrency, srv.URL, secret, caFile)
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
	drv, err := webhook.New(*cfg.Sinks[0].Webhook, webhook.Options{MaxConns: benchConcurrency})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close(ctx)
	payload := []byte(`{"order_id":12345,"amount_cents":4200,"currency":"EUR","items":[{"sku":"A-1","qty":2}]}`)

	var rawTime, e2eTime time.Duration
	var rawP50, rawP99, e2eP50, e2eP99 time.Duration
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		// Raw ceiling.
		st.reset(benchEvents)
		sent := make(map[string]time.Time, benchEvents)
		ids := make(chan string, benchEvents)
		for i := 0; i < benchEvents; i++ {
			id := fmt.Sprintf("raw_%d_%d", iter, i)
			ids <- id
		}
		close(ids)
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < benchConcurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range ids {
					mu.Lock()
					sent[id] = time.Now()
					mu.Unlock()
					e := &event.Event{ID: id, Type: "order.completed", Time: time.Now(), Data: payload}
					if err := drv.Send(ctx, []*event.Event{e}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		<-st.done
		rawTime += time.Since(start)
		st.mu.Lock()
		p50, p99 := latencies(sent, st.at)
		st.mu.Unlock()
		rawP50, rawP99 = rawP50+p50, rawP99+p99

		// End to end.
		st.reset(benchEvents)
		sent = make(map[string]time.Time, benchEvents)
		start = time.Now()
		var futures []jetstream.PubAckFuture
		for i := 0; i < benchEvents; i++ {
			id := fmt.Sprintf("e2e_%d_%d", iter, i)
			m := nats.NewMsg("events.order.completed")
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
		select {
		case <-st.done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d delivered", len(st.at), benchEvents)
		}
		e2eTime += time.Since(start)
		st.mu.Lock()
		p50, p99 = latencies(sent, st.at)
		st.mu.Unlock()
		e2eP50, e2eP99 = e2eP50+p50, e2eP99+p99
	}
	b.StopTimer()
	n := float64(b.N)
	rawRate := float64(benchEvents) * n / rawTime.Seconds()
	e2eRate := float64(benchEvents) * n / e2eTime.Seconds()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(e2eRate, "e2e_events/s")
	b.ReportMetric(rawRate, "raw_events/s")
	b.ReportMetric(e2eRate/rawRate, "e2e/raw")
	b.ReportMetric(float64(e2eP50.Microseconds())/n/1000, "e2e_p50_ms")
	b.ReportMetric(float64(e2eP99.Microseconds())/n/1000, "e2e_p99_ms")
	b.ReportMetric(float64(rawP50.Microseconds())/n/1000, "raw_p50_ms")
	b.ReportMetric(float64(rawP99.Microseconds())/n/1000, "raw_p99_ms")
}
