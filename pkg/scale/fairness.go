package scale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// FairnessOptions are issue 20's fairness figure: "when one tenant
// publishes ten times the rate of the others, the others' p99
// publish-to-receipt stays within 2× of what it is without that tenant".
// Tenants tenants of one shared endpoint each get Rate events/s between
// them; a heavy tenant (one shared endpoint) adds Heavy × a normal
// tenant's rate, first answering at once, then after Slow.
type FairnessOptions struct {
	Binary string
	// Tenants are the normal tenants (one endpoint each); Rate the events
	// per second spread evenly over them.
	Tenants int
	Rate    float64
	// Heavy is the heavy tenant's rate as a multiple of a normal one's.
	Heavy float64
	// HeavyConcurrency is the heavy endpoint's concurrency (0: the
	// default). With 1 and Slow 200 ms it takes 5 events/s: at 10× it falls
	// behind and its records park.
	HeavyConcurrency int
	// Slow is how long the heavy endpoint takes to answer in the last
	// phase.
	Slow time.Duration
	// Phase is how long each phase publishes; Drain how long its events
	// may take to arrive after it.
	Phase, Drain time.Duration
	// Rounds repeats the three phases (1 when zero): the ratios are the
	// medians of each round's, so a moment of the shared machine's load
	// weighs less.
	Rounds   int
	Progress io.Writer
}

// FairnessDefaults: 200 tenants, 200 events/s, a heavy tenant at 10×,
// 30 s phases, a slow heavy endpoint answering after 200 ms with
// concurrency 1.
func FairnessDefaults() FairnessOptions {
	return FairnessOptions{Tenants: 200, Rate: 200, Heavy: 10, HeavyConcurrency: 1, Slow: 200 * time.Millisecond,
		Phase: 30 * time.Second, Drain: 60 * time.Second, Rounds: 1}
}

// PhaseReport is the normal tenants' publish-to-receipt in one phase.
type PhaseReport struct {
	Name      string `json:"name"`
	Sent      int    `json:"sent"`
	Delivered int    `json:"delivered"`
	Latency   Dist   `json:"publish_to_receipt"`
	// Same and Others split Latency: the tenants whose sink's delivery
	// partition is the heavy sink's, and the rest (empty when the
	// partitions could not be read).
	Same   Dist `json:"same_partition"`
	Others Dist `json:"other_partitions"`
	// HeavySent and HeavyDelivered are the heavy tenant's events of the
	// phase and how many reached it by the end of the drain.
	HeavySent      int    `json:"heavy_sent"`
	HeavyDelivered int    `json:"heavy_delivered"`
	Load           string `json:"load"`
}

// FairnessReport is the three phases: without the heavy tenant, with it,
// with it and its endpoint slow; Ratio* are the normal tenants' p99 with
// it over without (the medians over the rounds).
type FairnessReport struct {
	Tenants   int           `json:"tenants"`
	Rate      float64       `json:"rate"`
	Heavy     float64       `json:"heavy"`
	Phases    []PhaseReport `json:"phases"` // round after round, three each
	RatioFast float64       `json:"p99_ratio_heavy"`
	RatioSlow float64       `json:"p99_ratio_heavy_slow"`
}

// heavyEndpoint answers the heavy tenant's endpoint, after slow when set,
// and counts the distinct events it got.
type heavyEndpoint struct {
	slow atomic.Int64 // nanoseconds
	mu   sync.Mutex
	seen map[string]bool
}

func (h *heavyEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	if d := time.Duration(h.slow.Load()); d > 0 {
		select {
		case <-r.Context().Done():
		case <-time.After(d):
		}
	}
	h.mu.Lock()
	h.seen[r.Header.Get("webhook-id")] = true
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *heavyEndpoint) count(ids []string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, id := range ids {
		if h.seen[id] {
			n++
		}
	}
	return n
}

// Fairness runs the gateway, creates the endpoints, and measures the
// three phases one after the other.
func Fairness(ctx context.Context, o FairnessOptions) (*FairnessReport, error) {
	if o.Binary == "" || o.Tenants < 1 || o.Rate <= 0 || o.Heavy <= 0 || o.Phase <= 0 {
		return nil, errors.New("fairness: need a binary, tenants, a rate, a heavy factor and a phase")
	}
	top := newTopology(o.Tenants, o.Tenants, false)
	rc, err := startReceiver(top.paths, top.how)
	if err != nil {
		return nil, err
	}
	defer rc.close()
	hv := &heavyEndpoint{seen: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hsrv := &http.Server{Handler: hv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hsrv.Serve(ln) }()
	defer hsrv.Close()

	g, err := startGateway(ctx, o.Binary, 8)
	if err != nil {
		return nil, err
	}
	defer g.stop()
	co := Options{Clients: 8, Delivery: "shared", CreateTimeout: 10 * time.Minute, Progress: o.Progress}
	o.progressf("creating %d endpoints and the heavy one …", o.Tenants)
	if cr := create(ctx, g, rc.url, top, co); cr.Failed > 0 {
		return nil, fmt.Errorf("create: %d failed: %s", cr.Failed, cr.FirstError)
	}
	body := fmt.Sprintf(`{"name":"heavy","tenant":"heavy","events":[">"],"delivery":"shared","webhook":{"url":"http://%s/heavy","allow_private_networks":true}`, ln.Addr())
	if o.HeavyConcurrency > 0 {
		body += fmt.Sprintf(`,"concurrency":%d`, o.HeavyConcurrency)
	}
	if code, b, err := g.do(ctx, http.MethodPost, "/v1/sinks", body+"}"); err != nil || code != http.StatusCreated {
		return nil, fmt.Errorf("create the heavy endpoint: %d %s %v", code, truncate(string(b), 300), err)
	}

	nc, err := nats.Connect(g.natsURL, nats.Name("switchyard scale fairness"))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	part, err := partitions(ctx, js, append(append([]string(nil), top.name...), "heavy"))
	if err != nil {
		o.progressf("no partition split: %v", err)
	}
	rep := &FairnessReport{Tenants: o.Tenants, Rate: o.Rate, Heavy: o.Heavy}
	var fast, slow []float64
	for round := 0; round < max(o.Rounds, 1); round++ {
		n := len(rep.Phases)
		if err := fairnessRound(ctx, js, rc, hv, top, part, o, rep); err != nil {
			return rep, err
		}
		if base := rep.Phases[n].Latency.P99ms; base > 0 {
			fast = append(fast, rep.Phases[n+1].Latency.P99ms/base)
			slow = append(slow, rep.Phases[n+2].Latency.P99ms/base)
		}
		o.progressf("round %d: p99 ratio with the heavy tenant %.2f, with it slow %.2f", round+1, fast[len(fast)-1], slow[len(slow)-1])
	}
	rep.RatioFast, rep.RatioSlow = median(fast), median(slow)
	return rep, nil
}

// median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fairnessRound runs the three phases once, appending them to rep.
func fairnessRound(ctx context.Context, js jetstream.JetStream, rc *receiver, hv *heavyEndpoint, top *topology, part map[string]int, o FairnessOptions, rep *FairnessReport) error {
	for _, ph := range []struct {
		name  string
		heavy float64
		slow  time.Duration
	}{{"without the heavy tenant", 0, 0}, {"with the heavy tenant", o.Heavy, 0}, {"with the heavy tenant, its endpoint slow", o.Heavy, o.Slow}} {
		hv.slow.Store(int64(ph.slow))
		o.progressf("phase %q: %s …", ph.name, o.Phase)
		pr, err := fairnessPhase(ctx, js, rc, hv, top, part, o, ph.name, ph.heavy)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, *pr)
		o.progressf("%s: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d/%d; heavy %d/%d) load %s", pr.Name,
			pr.Latency.P50ms, pr.Latency.P99ms, pr.Latency.Maxms, pr.Delivered, pr.Sent, pr.HeavyDelivered, pr.HeavySent, pr.Load)
		if pr.Same.N > 0 {
			o.progressf("  p99 of the tenants in the heavy sink's delivery partition %.0f ms (%d), in the others %.0f ms (%d)",
				pr.Same.P99ms, pr.Same.N, pr.Others.P99ms, pr.Others.N)
		}
		if pr.Delivered < pr.Sent {
			return fmt.Errorf("%s: %d of the normal tenants' %d events arrived within %s", pr.Name, pr.Delivered, pr.Sent, o.Drain)
		}
	}
	return nil
}

func (o FairnessOptions) progressf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// fairnessPhase publishes for o.Phase: o.Rate events/s round-robin over
// the normal tenants and heavy × o.Rate/o.Tenants to the heavy one, each
// publish timed just before it is sent; then waits o.Drain for the normal
// events (and the heavy ones, as far as they come) to arrive.
func fairnessPhase(ctx context.Context, js jetstream.JetStream, rc *receiver, hv *heavyEndpoint, top *topology, part map[string]int, o FairnessOptions, name string, heavy float64) (*PhaseReport, error) {
	run := fmt.Sprintf("fair%d", time.Now().UnixNano())
	heavyRate := heavy * o.Rate / float64(o.Tenants)
	type sent struct {
		i  int
		id string
		at time.Time
	}
	var normal []sent
	var heavyIDs []string
	var futures []jetstream.PubAckFuture
	pub := func(subj, id string) error {
		m := nats.NewMsg(subj)
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Data = []byte(`{"n":1}`)
		f, err := js.PublishMsgAsync(m)
		if err == nil {
			futures = append(futures, f)
		}
		return err
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		el := time.Since(start)
		if el > o.Phase {
			break
		}
		for want := int(el.Seconds() * o.Rate); len(normal) < want; {
			k := len(normal) % o.Tenants
			id := fmt.Sprintf("%s-t%d-%d", run, k, len(normal))
			at := time.Now()
			if err := pub(fmt.Sprintf("tenants.%s.%s", tenantID(k), eventType), id); err != nil {
				return nil, err
			}
			normal = append(normal, sent{i: top.byTenant[k][0], id: id, at: at})
		}
		for want := int(el.Seconds() * heavyRate); len(heavyIDs) < want; {
			id := fmt.Sprintf("%s-heavy-%d", run, len(heavyIDs))
			if err := pub("tenants.heavy."+eventType, id); err != nil {
				return nil, err
			}
			heavyIDs = append(heavyIDs, id)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return nil, fmt.Errorf("publish: %w", err)
		case <-time.After(30 * time.Second):
			return nil, errors.New("publish: no PubAck within 30 s")
		}
	}
	arrived := func() int {
		n := 0
		for _, s := range normal {
			if _, ok := rc.seen(s.i, s.id); ok {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(o.Drain)
	for arrived() < len(normal) && time.Now().Before(deadline) {
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	pr := &PhaseReport{Name: name, Sent: len(normal), HeavySent: len(heavyIDs), HeavyDelivered: hv.count(heavyIDs), Load: loadavg()}
	var lat, same, others []time.Duration
	hp, split := part["heavy"]
	for _, s := range normal {
		if h, ok := rc.seen(s.i, s.id); ok {
			pr.Delivered++
			d := h.first.Sub(s.at)
			lat = append(lat, d)
			if p, ok := part[top.name[s.i]]; split && ok && p == hp {
				same = append(same, d)
			} else if split && ok {
				others = append(others, d)
			}
		}
	}
	pr.Latency, pr.Same, pr.Others = distOf(lat), distOf(same), distOf(others)
	return pr, nil
}

// partitions reads each named API sink's incarnation from the sinks
// bucket and returns its delivery partition.
func partitions(ctx context.Context, js jetstream.JetStream, names []string) (map[string]int, error) {
	kv, err := js.KeyValue(ctx, "SWITCHYARD_SINKS")
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(names))
	for _, n := range names {
		e, err := kv.Get(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		var rec struct {
			Incarnation string `json:"incarnation"`
		}
		if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Incarnation == "" {
			return nil, fmt.Errorf("%s: no incarnation in its record (%v)", n, err)
		}
		out[n] = subject.Partition(rec.Incarnation)
	}
	return out, nil
}
