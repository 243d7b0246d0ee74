package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The figures of issue 20 for shared delivery on the three-node R3
// cluster: endpoints created through the API by 8 concurrent clients over
// tenants of ten, each server's RSS growth per endpoint and the three
// servers' idle CPU at each size, the creation rate, and fan-out
// throughput for 1 event → 1 endpoint and 1 event → 100 endpoints.
//
// Endpoint j of tenant k (k = i/10, j = i%10) takes the event type "p<j>"
// of its tenant only, so an event tenants.t<k>.p<j> reaches exactly one
// endpoint; the tenant "fan" holds 100 more endpoints that all take "fan".

// sharedTenantSize is the endpoints per tenant.
const sharedTenantSize = 10

// sharedFanSize is the endpoints of the one tenant an event fans out to.
const sharedFanSize = 100

// TestClusterSharedFigures measures at each size of CLUSTERTEST_SHARED
// (a comma-separated, increasing list of endpoint counts), creating the
// endpoints of each size on top of the previous ones:
//
//	CLUSTERTEST_SHARED=1000,10000 go test -run TestClusterSharedFigures -v -timeout 60m ./internal/clustertest
//
// CLUSTERTEST_SHARED_CREATE_WITHIN bounds the whole creation (15m by
// default): a size not reached in time is reported as far as it got.
func TestClusterSharedFigures(t *testing.T) {
	skipShort(t)
	var sizes []int
	for _, f := range strings.Split(os.Getenv("CLUSTERTEST_SHARED"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 {
		t.Skip("a measurement: set CLUSTERTEST_SHARED=1000,10000 to run it")
	}
	within := 15 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("CLUSTERTEST_SHARED_CREATE_WITHIN")); err == nil && d > 0 {
		within = d
	}
	f := startSharedFigures(t)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for _, n := range sizes {
		f.createUpTo(ctx, n)
		f.measureIdle(5*time.Second, 10*time.Second)
		if f.created < n {
			f.logf("stopped at %d endpoints of %d: creation budget %s spent", f.created, n, within)
			break
		}
	}
	f.createFan()
	f.fanoutOneToOne(min(f.created/sharedTenantSize*sharedTenantSize, 5000), 2*time.Minute)
	f.fanoutOneToHundred(100, 2*time.Minute)
}

// TestClusterSharedFanout is the figures' test at a size CI affords: 200
// shared endpoints over 20 tenants and a tenant of 100, every delivery
// of both fan-outs arriving.
func TestClusterSharedFanout(t *testing.T) {
	skipShort(t)
	f := startSharedFigures(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f.createUpTo(ctx, 200)
	if f.created != 200 {
		t.Fatalf("created %d endpoints of 200", f.created)
	}
	f.createFan()
	f.fanoutOneToOne(200, 30*time.Second)
	f.fanoutOneToHundred(10, 30*time.Second)
}

// sharedFigures is one cluster, one replica, and the loopback receiver
// the endpoints point at.
type sharedFigures struct {
	t       *testing.T
	c       *cluster
	r       *replica
	rc      *arrivals
	js      jetstream.JetStream
	rss0    []int64 // each node's RSS before the first create
	created int     // endpoints 0…created-1 exist
	createD time.Duration
	lat     []time.Duration
}

func startSharedFigures(t *testing.T) *sharedFigures {
	t.Helper()
	c := startCluster(t)
	r := startReplica(t, 1, c.URL(), "api: {allow: [private_networks]}", "", nil)
	r.waitReady(120 * time.Second)
	_, js := c.connect()
	f := &sharedFigures{t: t, c: c, r: r, rc: startArrivals(t), js: js}
	// Settled before the first create: the replica's own streams and
	// consumers exist by now.
	time.Sleep(3 * time.Second)
	f.rss0 = c.rssBytes()
	f.logf("before: nats_rss=%s", mibs(f.rss0))
	return f
}

func (f *sharedFigures) logf(format string, args ...any) {
	load, _ := os.ReadFile("/proc/loadavg")
	line := fmt.Sprintf(format, args...)
	fmt.Printf("%s shared: %s [load %s]\n", time.Now().UTC().Format("15:04:05"), line, strings.Join(strings.Fields(string(load))[:3], " "))
}

// post creates one endpoint; its answer's status, or an error.
func (f *sharedFigures) post(ctx context.Context, hc *http.Client, name, tenant, typ, path string) error {
	body := fmt.Sprintf(`{"name":%q,"tenant":%q,"events":[%q],"webhook":{"url":"%s%s","allow_private_networks":true}}`,
		name, tenant, typ, f.rc.url, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.r.admin+"/v1/sinks", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s: %s %s", name, resp.Status, b)
	}
	var got struct {
		Delivery string `json:"delivery"`
	}
	if err := json.Unmarshal(b, &got); err == nil && got.Delivery != "" && got.Delivery != "shared" {
		return fmt.Errorf("%s: created as %q, not shared", name, got.Delivery)
	}
	return nil
}

// createUpTo creates endpoints created…n-1 with 8 concurrent clients,
// until ctx ends, and reports the rate and the latency so far.
func (f *sharedFigures) createUpTo(ctx context.Context, n int) {
	f.t.Helper()
	const clients = 8
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	next := make(chan int)
	var mu sync.Mutex
	var firstErr error
	done := f.created
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				err := f.post(ctx, hc, fmt.Sprintf("e%d", i), fmt.Sprintf("t%d", i/sharedTenantSize), fmt.Sprintf("p%d", i%sharedTenantSize), fmt.Sprintf("/e/%d", i))
				d := time.Since(t0)
				mu.Lock()
				if err != nil && firstErr == nil && ctx.Err() == nil {
					firstErr = err
				}
				if err == nil {
					f.lat = append(f.lat, d)
					done++
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := f.created; i < n; i++ {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		f.t.Fatalf("create: %v", firstErr)
	}
	took := time.Since(start)
	batch := done - f.created
	f.created, f.createD = done, f.createD+took
	p50, p99 := quantiles(f.lat)
	f.logf("created %d endpoints (%d now in %s: %.0f/s; all %d: %.0f/s) create p50=%s p99=%s",
		f.created, batch, took.Round(time.Millisecond), float64(batch)/took.Seconds(),
		f.created, float64(f.created)/f.createD.Seconds(), p50, p99)
}

// measureIdle waits settle, then reads each node's RSS growth per
// endpoint and the three nodes' CPU over idle.
func (f *sharedFigures) measureIdle(settle, idle time.Duration) {
	time.Sleep(settle)
	rss := f.c.rssBytes()
	cpu0, wall0 := f.c.cpu(), time.Now()
	time.Sleep(idle)
	cpu := float64(f.c.cpu()-cpu0) / float64(time.Since(wall0))
	f.logf("at %d endpoints (%s after the last create): nats_rss=%s growth per endpoint=%s; nats idle CPU (3 nodes, %s)=%.1f%% of one core",
		f.created, settle, mibs(rss), f.perEndpoint(rss), idle, cpu*100)
	// Again after the idle window: what of the growth the servers keep
	// (block caches expire, the heap is collected).
	rss = f.c.rssBytes()
	f.logf("at %d endpoints (%s after the last create): nats_rss=%s growth per endpoint=%s",
		f.created, settle+idle, mibs(rss), f.perEndpoint(rss))
}

// perEndpoint is each node's RSS growth since before the first create,
// per endpoint.
func (f *sharedFigures) perEndpoint(rss []int64) string {
	per := make([]string, len(rss))
	for i := range rss {
		per[i] = fmt.Sprintf("%.2fKB", float64(rss[i]-f.rss0[i])/1024/float64(max(f.created, 1)))
	}
	return strings.Join(per, "/")
}

// createFan creates the tenant of 100 endpoints that all take "fan".
func (f *sharedFigures) createFan() {
	f.t.Helper()
	hc := &http.Client{Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, sharedFanSize)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for j := range sharedFanSize {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- f.post(ctx, hc, fmt.Sprintf("fan%d", j), "fan", "fan", fmt.Sprintf("/fan/%d", j))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			f.t.Fatalf("create the fan-out tenant: %v", err)
		}
	}
}

// fanoutOneToOne publishes a burst of n events, each to one endpoint
// (endpoints 0…n-1, n ≤ created), and waits for all n deliveries.
func (f *sharedFigures) fanoutOneToOne(n int, within time.Duration) {
	f.t.Helper()
	msgs := make([]*nats.Msg, n)
	for i := range n {
		id := fmt.Sprintf("one-%d", i)
		m := nats.NewMsg(fmt.Sprintf("tenants.t%d.p%d", i/sharedTenantSize, i%sharedTenantSize))
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Data = []byte(`{"n":1}`)
		msgs[i] = m
		f.rc.expect(fmt.Sprintf("/e/%d", i), id)
	}
	f.burst("1 event → 1 endpoint", msgs, n, within)
}

// fanoutOneToHundred publishes n events to the tenant of 100 endpoints
// and waits for all 100·n deliveries.
func (f *sharedFigures) fanoutOneToHundred(n int, within time.Duration) {
	f.t.Helper()
	msgs := make([]*nats.Msg, n)
	for i := range n {
		id := fmt.Sprintf("fan-%d", i)
		m := nats.NewMsg("tenants.fan.fan")
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Data = []byte(`{"n":1}`)
		msgs[i] = m
		for j := range sharedFanSize {
			f.rc.expect(fmt.Sprintf("/fan/%d", j), id)
		}
	}
	f.burst("1 event → 100 endpoints", msgs, n*sharedFanSize, within)
}

// burst publishes msgs at once (async, every PubAck awaited) and waits
// within for the deliveries expected, then reports events/s and
// deliveries/s from the first publish to the last receipt.
func (f *sharedFigures) burst(what string, msgs []*nats.Msg, deliveries int, within time.Duration) {
	f.t.Helper()
	f.rc.reset()
	start := time.Now()
	var futures []jetstream.PubAckFuture
	for _, m := range msgs {
		fu, err := f.js.PublishMsgAsync(m)
		if err != nil {
			f.t.Fatalf("%s: publish: %v", what, err)
		}
		futures = append(futures, fu)
	}
	acks := time.After(time.Minute)
	for _, fu := range futures {
		select {
		case <-fu.Ok():
		case err := <-fu.Err():
			f.t.Fatalf("%s: publish: %v", what, err)
		case <-acks:
			f.t.Fatalf("%s: no PubAck within a minute", what)
		}
	}
	published := time.Since(start)
	deadline := time.Now().Add(within)
	for f.rc.got() < deliveries && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	got, last, dup := f.rc.stats()
	if got < deliveries {
		f.t.Fatalf("%s: %d of %d deliveries arrived within %s; missing e.g. %v", what, got, deliveries, within, f.rc.missing(5))
	}
	took := last.Sub(start)
	f.logf("%s: %d events, %d deliveries (%d repeated) in %s (published in %s): %.0f events/s, %.0f deliveries/s",
		what, len(msgs), got, dup, took.Round(time.Millisecond), published.Round(time.Millisecond),
		float64(len(msgs))/took.Seconds(), float64(got)/took.Seconds())
}

// arrivals is the loopback receiver: it counts the first arrival of each
// expected (path, webhook-id) pair and answers 204.
type arrivals struct {
	url string

	mu     sync.Mutex
	want   map[string]bool // path + " " + id → arrived
	n      int
	repeat int
	last   time.Time
	extra  atomic.Int64 // requests nobody expected
}

func startArrivals(t *testing.T) *arrivals {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &arrivals{url: "http://" + ln.Addr().String(), want: map[string]bool{}}
	srv := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	key := r.URL.Path + " " + r.Header.Get("webhook-id")
	now := time.Now()
	a.mu.Lock()
	switch seen, ok := a.want[key]; {
	case !ok:
		a.extra.Add(1)
	case seen:
		a.repeat++
	default:
		a.want[key] = true
		a.n++
		a.last = now
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (a *arrivals) expect(path, id string) {
	a.mu.Lock()
	a.want[path+" "+id] = false
	a.mu.Unlock()
}

// reset forgets the counts (not the expectations) before a burst.
func (a *arrivals) reset() {
	a.mu.Lock()
	a.n, a.repeat, a.last = 0, 0, time.Time{}
	for k, v := range a.want {
		if v {
			delete(a.want, k)
		}
	}
	a.mu.Unlock()
}

func (a *arrivals) got() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (a *arrivals) stats() (n int, last time.Time, repeat int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.last, a.repeat
}

func (a *arrivals) missing(k int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for key, seen := range a.want {
		if !seen && len(out) < k {
			out = append(out, key)
		}
	}
	return out
}

// rssBytes is each node's resident memory.
func (c *cluster) rssBytes() []int64 {
	out := make([]int64, len(c.nodes))
	for i, p := range c.nodes {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				out[i] = kb << 10
			}
		}
	}
	return out
}

func mibs(b []int64) string {
	s := make([]string, len(b))
	for i, v := range b {
		s[i] = fmt.Sprintf("%.1fMiB", float64(v)/(1<<20))
	}
	return strings.Join(s, "/")
}

// quantiles is the nearest-rank p50 and p99 of ds.
func quantiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))].Round(time.Millisecond / 10)
	}
	return at(0.5), at(0.99)
}
