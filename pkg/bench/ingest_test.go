package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// A tiny run completes and reports both systems for both batch sizes.
func TestIngestBenchTiny(t *testing.T) {
	var out bytes.Buffer
	rep, err := RunIngest(context.Background(), IngestOptions{For: 300e6, Concurrency: 2, Size: 64, Batches: []int{1, 10}, Rounds: 2, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 8 {
		t.Fatalf("%d results, want 8", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Events == 0 || r.EventsPerSec <= 0 || r.P99 < r.P50 || r.Events != r.Requests*r.Batch {
			t.Errorf("result %+v", r)
		}
	}
	rep.WriteSummary(&out)
	if !strings.Contains(out.String(), "product/bare") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// BenchmarkIngestHandler serves POST /v1/events in-process (no HTTP
// client or server) to the product's handler and to the bare one, on one
// embedded JetStream: CPU and allocations per request of 1 or 100 events.
func BenchmarkIngestHandler(b *testing.B) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: b.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		b.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10e9) {
		b.Fatal("not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: config.DefaultStreamName, Subjects: []string{"events.>", "tenants.*.>"}}); err != nil {
		b.Fatal(err)
	}
	prod, err := ingest.New(ingest.Options{JS: js, Stream: config.DefaultStreamName, Tokens: []config.IngestToken{{Token: benchToken}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	data := `"` + strings.Repeat("x", 254) + `"`
	for _, sys := range []struct {
		name string
		h    http.Handler
	}{{"bare", &bareIngest{js: js}}, {"product", prod}} {
		for _, batch := range []int{1, 100} {
			b.Run(sys.name+"/"+strconv.Itoa(batch), func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for n := 0; b.Loop(); n++ {
					buf = append(buf[:0], '[')
					for i := range batch {
						if i > 0 {
							buf = append(buf, ',')
						}
						buf = append(buf, `{"type":"bench.ingest","id":"`...)
						buf = append(buf, sys.name...)
						buf = strconv.AppendInt(append(buf, '-'), int64(n*batch+i), 10)
						buf = append(buf, `","data":`...)
						buf = append(buf, data...)
						buf = append(buf, '}')
					}
					buf = append(buf, ']')
					req := httptest.NewRequest(http.MethodPost, ingest.PathEvents, bytes.NewReader(buf))
					req.Header.Set("Authorization", "Bearer "+benchToken)
					rec := httptest.NewRecorder()
					sys.h.ServeHTTP(rec, req)
					if rec.Code != http.StatusAccepted {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
