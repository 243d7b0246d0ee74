package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// IngestOptions say what `switchyard bench --ingest` runs: HTTP clients
// posting events for For per phase to the product's ingest handler and to
// a bare handler (decode → JetStream publish → wait for the PubAck), both
// in this process, on one embedded nats-server, one phase after the other.
type IngestOptions struct {
	For         time.Duration // per phase
	Concurrency int           // clients posting at once
	Size        int           // bytes of each event's data
	Batches     []int         // events per request: 1 (single events) and 100 (arrays)
	Rounds      int           // the systems' order alternates between rounds
	Out         io.Writer     // each round's table as it finishes
}

// IngestResult is one phase: one system, one batch size, one round.
type IngestResult struct {
	Round        int
	System       string // bare or product
	Batch        int
	Requests     int
	Events       int
	Elapsed      time.Duration
	EventsPerSec float64
	P50, P99     time.Duration // request → 202
	// CPUMicros is the process's CPU (user+sys) per event: the clients and
	// the embedded nats-server run in this process for both systems, so
	// the ratio is fair, if diluted. OtherCores is what other processes
	// used meanwhile: a busy machine makes wall-clock figures noisy.
	CPUMicros  float64
	OtherCores float64
}

// IngestReport is every phase of a run.
type IngestReport struct {
	Options IngestOptions
	Results []IngestResult
}

const benchToken = "bench-token-0123456789"

// RunIngest measures the ingest API against the bare handler.
func RunIngest(ctx context.Context, o IngestOptions) (*IngestReport, error) {
	if o.For <= 0 || o.Concurrency < 1 || o.Rounds < 1 || len(o.Batches) == 0 {
		return nil, errors.New("ingest bench: for, concurrency, rounds and batches must be positive")
	}
	dir, err := os.MkdirTemp("", "switchyard-bench-ingest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{ServerName: "bench-ingest", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, JetStreamMaxStore: 1 << 40, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(15 * time.Second) {
		return nil, errors.New("ingest bench: nats-server not ready after 15s")
	}
	// One connection per system, as two gateways would have.
	conns := map[string]jetstream.JetStream{}
	for _, sys := range []string{"bare", "product"} {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		if conns[sys], err = jetstream.New(nc); err != nil {
			return nil, err
		}
	}
	stream, err := conns["bare"].CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: config.DefaultStreamName, Subjects: []string{"events.>", "tenants.*.>"},
		Storage: jetstream.FileStorage, Duplicates: config.DefaultDupWindow, Discard: jetstream.DiscardNew})
	if err != nil {
		return nil, err
	}
	prod, err := ingest.New(ingest.Options{JS: conns["product"], Stream: config.DefaultStreamName,
		Tokens: []config.IngestToken{{Name: "bench", Token: benchToken}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	handlers := map[string]http.Handler{"product": prod, "bare": &bareIngest{js: conns["bare"]}}
	urls := map[string]string{}
	for sys, h := range handlers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		urls[sys] = "http://" + ln.Addr().String() + "/v1/events"
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2 * o.Concurrency, MaxIdleConnsPerHost: 2 * o.Concurrency, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()

	// A short unmeasured phase per system first: connections, buffers and
	// the stream's files are warm before the first timed phase.
	warm := o
	warm.For = min(o.For, time.Second)
	for _, sys := range []string{"bare", "product"} {
		if _, err := loadPhase(ctx, client, urls[sys], warm, o.Batches[len(o.Batches)-1], "warm-"+sys); err != nil {
			return nil, fmt.Errorf("warm-up %s: %w", sys, err)
		}
	}
	rep := &IngestReport{Options: o}
	for round := 1; round <= o.Rounds; round++ {
		order := []string{"bare", "product"}
		if round%2 == 0 {
			order = []string{"product", "bare"}
		}
		var rs []IngestResult
		for _, batch := range o.Batches {
			for _, sys := range order {
				if err := stream.Purge(ctx); err != nil {
					return nil, err
				}
				r, err := loadPhase(ctx, client, urls[sys], o, batch, fmt.Sprintf("%s%d-%d", sys, round, batch))
				if err != nil {
					return nil, fmt.Errorf("round %d, %s, batch %d: %w", round, sys, batch, err)
				}
				r.Round, r.System, r.Batch = round, sys, batch
				rs = append(rs, r)
			}
		}
		rep.Results = append(rep.Results, rs...)
		if o.Out != nil {
			fmt.Fprintf(o.Out, "round %d\n", round)
			writeIngestTable(o.Out, rs)
		}
	}
	return rep, nil
}

// loadPhase posts for o.For from o.Concurrency clients, each request
// batch events with fresh ids, and times each request to its 202.
func loadPhase(ctx context.Context, client *http.Client, url string, o IngestOptions, batch int, prefix string) (IngestResult, error) {
	data := bytes.Repeat([]byte("x"), max(o.Size-2, 0))
	data = append(append([]byte{'"'}, data...), '"')
	ctx, cancel := context.WithTimeout(ctx, o.For)
	defer cancel()
	var mu sync.Mutex
	var lat []int64
	var firstErr error
	var wg sync.WaitGroup
	start, cpu0, busy0 := time.Now(), cpuTime(), machineBusy()
	for w := range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []int64
			var buf []byte
			for seq := 0; ctx.Err() == nil; seq++ {
				buf = buf[:0]
				if batch > 1 {
					buf = append(buf, '[')
				}
				for i := range batch {
					if i > 0 {
						buf = append(buf, ',')
					}
					buf = append(buf, `{"type":"bench.ingest","id":"`...)
					buf = append(buf, prefix...)
					buf = append(buf, '-')
					buf = strconv.AppendInt(buf, int64(w), 10)
					buf = append(buf, '-')
					buf = strconv.AppendInt(buf, int64(seq*batch+i), 10)
					buf = append(buf, `","data":`...)
					buf = append(buf, data...)
					buf = append(buf, '}')
				}
				if batch > 1 {
					buf = append(buf, ']')
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(buf))
				req.Header.Set("Authorization", "Bearer "+benchToken)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					firstErr = cmp(firstErr, err)
					mu.Unlock()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					mu.Lock()
					firstErr = cmp(firstErr, fmt.Errorf("%s answered %s", url, resp.Status))
					mu.Unlock()
					return
				}
				if ctx.Err() == nil { // requests cut by the end of the phase do not count
					mine = append(mine, int64(time.Since(t0)))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu, busy := time.Since(start), cpuTime()-cpu0, machineBusy()-busy0
	if firstErr != nil {
		return IngestResult{}, firstErr
	}
	slices.Sort(lat)
	r := IngestResult{Requests: len(lat), Events: len(lat) * batch, Elapsed: elapsed}
	r.EventsPerSec = float64(r.Events) / elapsed.Seconds()
	r.P50, r.P99 = percentiles(lat)
	if r.Events > 0 {
		r.CPUMicros = float64(cpu.Microseconds()) / float64(r.Events)
	}
	if busy > 0 {
		r.OtherCores = max(0, (busy-cpu).Seconds()/elapsed.Seconds())
	}
	return r, nil
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// bareIngest is the ceiling: decode, publish, wait for the PubAck,
// answer; no auth, validation, rate limit or metrics.
type bareIngest struct{ js jetstream.JetStream }

type bareEvent struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func (b *bareIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || len(body) == 0 {
		http.Error(w, "body", http.StatusBadRequest)
		return
	}
	var evs []bareEvent
	if body[0] == '[' {
		err = json.Unmarshal(body, &evs)
	} else {
		evs = make([]bareEvent, 1)
		err = json.Unmarshal(body, &evs[0])
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg := func(e bareEvent) *nats.Msg {
		return &nats.Msg{Subject: "events." + e.Type, Header: nats.Header{"Nats-Msg-Id": {e.ID}}, Data: e.Data}
	}
	if len(evs) == 1 {
		if _, err := b.js.PublishMsg(r.Context(), msg(evs[0])); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	} else {
		futures := make([]jetstream.PubAckFuture, len(evs))
		for i, e := range evs {
			if futures[i], err = b.js.PublishMsgAsync(msg(e)); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	out, _ := json.Marshal(map[string][]string{"ids": ids})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(out)
}

func writeIngestTable(w io.Writer, rs []IngestResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events/request\tsystem\trequests\tevents\tseconds\tevents/s\tp50 ms to 202\tp99 ms to 202\tCPU µs/event\tothers\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%.2f\t%.0f\t%s\t%s\t%.1f\t%s\t\n", r.Batch, r.System, r.Requests, r.Events, r.Elapsed.Seconds(), r.EventsPerSec, ms(r.P50), ms(r.P99), r.CPUMicros, others(r.OtherCores))
	}
	_ = tw.Flush()
}

// Ratio is the median over rounds of product/bare of f for one batch
// size, and the range; each round's pair ran back to back.
func (rep *IngestReport) Ratio(batch int, f func(IngestResult) float64) (med, lo, hi float64) {
	v := pairedRatios(rep.Results, func(r IngestResult) bool { return r.Batch == batch }, f)
	if len(v) == 0 {
		return 0, 0, 0
	}
	return median(v), v[0], v[len(v)-1]
}

// WriteSummary prints medians per batch size and system, and the
// product/bare ratios of events/s and p99.
func (rep *IngestReport) WriteSummary(w io.Writer) {
	o := rep.Options
	fmt.Fprintf(w, "summary: ingest API vs bare handler, %d round(s) of %s per phase, %d clients, %d-byte data; medians over rounds\n", o.Rounds, o.For, o.Concurrency, o.Size)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events/request\tsystem\tevents/s\tp50 ms\tp99 ms\tCPU µs/event\t")
	eps := func(r IngestResult) float64 { return r.EventsPerSec }
	p99 := func(r IngestResult) float64 { return float64(r.P99) }
	cpu := func(r IngestResult) float64 { return r.CPUMicros }
	for _, batch := range o.Batches {
		for _, sys := range []string{"bare", "product"} {
			var e, p50v, p99v, c []float64
			for _, r := range rep.Results {
				if r.Batch == batch && r.System == sys {
					e, p50v, p99v, c = append(e, r.EventsPerSec), append(p50v, float64(r.P50)), append(p99v, float64(r.P99)), append(c, r.CPUMicros)
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%.1f\t\n", batch, sys, median(e), ms(time.Duration(median(p50v))), ms(time.Duration(median(p99v))), median(c))
		}
		em, elo, ehi := rep.Ratio(batch, eps)
		pm, plo, phi := rep.Ratio(batch, p99)
		cm, clo, chi := rep.Ratio(batch, cpu)
		fmt.Fprintf(tw, "%d\tproduct/bare\t%.2f (%.2f–%.2f)\t\t%.2f (%.2f–%.2f)\t%.2f (%.2f–%.2f)\t\n", batch, em, elo, ehi, pm, plo, phi, cm, clo, chi)
	}
	_ = tw.Flush()
}
