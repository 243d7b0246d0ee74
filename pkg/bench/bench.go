// Package bench measures Switchyard's webhook delivery against a bare
// consume → POST → ack loop on the same machine, in the same process,
// against the same loopback receiver: the ceiling a gateway's overhead is
// judged by. `switchyard bench` runs it.
//
// Each round runs both systems (their order alternates between rounds),
// each on a fresh embedded nats-server:
//
//   - drain: a backlog of Events events is published first (not timed),
//     then delivery starts; timed until the receiver has every event from
//     every sink.
//   - latency: events are published live at a fixed rate (half the bare
//     loop's best drain rate unless set), each body stamped with its
//     publish time; the receiver records publish-to-receipt. These rounds
//     come after all the drain rounds.
//
// CPU is the whole process's (getrusage user+sys): the publisher and the
// receiver run in this process for both systems, so the ratio is fair,
// though the absolute figures include them.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Options say what to run.
type Options struct {
	Events      int // backlog per drain phase
	Size        int // event body bytes
	Concurrency int // workers per sink (product: the sink's concurrency)
	Sinks       int // sinks (bare: consumers) receiving every event
	// Sink is the destination: "webhook" (the default, a loopback HTTP
	// receiver), "eventbridge" (the PutEvents fake, internal/fakeeb) or
	// "pubsub" (pstest). In a cloud mode the bare loop sends with the
	// SDK's own batch publish (PutEvents of up to 10; the Pub/Sub
	// Publisher's batching) and the product runs that sink type.
	Sink string
	// Delivery is how the product's sinks are fed: "dedicated" (the
	// default: a durable consumer each) or "shared" (the matchers and
	// deliverers of shared delivery). The bare loop is the same either way.
	Delivery string
	Rounds   int
	// Rate is the latency phase's publish rate in events/s; 0 means half
	// the bare loop's best drain rate.
	Rate float64
	// LatencyFor is how long the latency phase publishes; 0 skips it.
	LatencyFor time.Duration
	// Out, when set, gets each round's table as it finishes.
	Out io.Writer
	// Timed, when set, is called with true when a timed section starts
	// and false when it ends (a benchmark's StartTimer and StopTimer).
	Timed func(on bool)
	// Logger gets the product's logs; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, gets a CPU profile of each system's drain in
	// the first round, keyed "bare" and "product", and of its latency
	// phase, keyed "bare.latency" and "product.latency".
	CPUProfile map[string]io.Writer
	// AllocProfile, when set, gets heap profiles taken just before and just
	// after each system's drain in the first round, keyed "bare.before",
	// "bare.after", "product.before" and "product.after": the allocations of
	// the drain are the difference (go tool pprof -sample_index=alloc_space
	// -diff_base BEFORE AFTER); and of the latency phase (a soak), keyed
	// "bare.latency.warm", "bare.latency.end" and the same for "product",
	// a quarter of the way in and at the end: what stayed in use is the
	// difference (-sample_index=inuse_space).
	AllocProfile map[string]io.Writer
	// Systems are the systems run, in the first round's order; nil means
	// both ("bare", "product"). A soak of the product alone needs Rate.
	Systems []string
}

// Defaults are `switchyard bench`'s defaults.
func Defaults() Options {
	return Options{Events: 30000, Size: 1024, Concurrency: 64, Sinks: 1, Rounds: 3, LatencyFor: 5 * time.Second, Sink: "webhook",
		Delivery: config.DeliveryDedicated}
}

func (o *Options) check() error {
	switch {
	case o.Events < 0:
		return errors.New("events must not be negative")
	case o.Events == 0 && o.LatencyFor == 0:
		return errors.New("nothing to run: no events to drain and no latency phase")
	case o.LatencyFor > 0 && o.Rate == 0 && (o.Events == 0 || (len(o.Systems) > 0 && !slices.Contains(o.Systems, "bare"))):
		return errors.New("the latency phase needs a rate: set one, or drain with the bare loop first")
	case o.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case o.Sinks < 1:
		return errors.New("sinks must be at least 1")
	case o.Rounds < 1:
		return errors.New("rounds must be at least 1")
	case o.Rate < 0 || o.LatencyFor < 0:
		return errors.New("rate and latency duration must not be negative")
	case slices.ContainsFunc(o.Systems, func(s string) bool { return s != "bare" && s != "product" }):
		return fmt.Errorf("systems %q: each is bare or product", o.Systems)
	case o.Sink != "" && o.Sink != "webhook" && o.Sink != "eventbridge" && o.Sink != "pubsub":
		return fmt.Errorf("sink %q: want webhook, eventbridge or pubsub", o.Sink)
	case o.Delivery != "" && o.Delivery != config.DeliveryDedicated && o.Delivery != config.DeliveryShared:
		return fmt.Errorf("delivery %q: want %s or %s", o.Delivery, config.DeliveryDedicated, config.DeliveryShared)
	}
	return nil
}

// Result is one phase of one system in one round.
type Result struct {
	Round  int
	System string // "bare" or "product"
	Phase  string // "drain" or "latency"
	Events int    // events published (each goes to every sink)
	Sinks  int
	// Rate is the latency phase's target publish rate.
	Rate    float64
	Elapsed time.Duration
	// EventsPerSec is Events/Elapsed: drained, or for the latency phase
	// the rate achieved end to end.
	EventsPerSec float64
	// Per delivery (event × sink), over the timed section.
	CPUMicros float64 // process CPU, user+sys
	// Cores is process CPU time over wall time: how much of the machine
	// the phase used (below the core count: it waited on something).
	Cores float64
	// OtherCores is what every other process on the machine used over the
	// phase, in cores (Linux /proc/stat; -1 where unknown): a busy
	// neighbour makes a round's figures suspect.
	OtherCores float64
	Allocs     float64 // heap allocations
	AllocBytes float64
	P50, P99   time.Duration // publish → receipt (latency phase)
	HeapInuse  uint64        // after the phase, before any collection
	// HeapStart and HeapEnd are the heap in use after a collection at the
	// start of the phase and at its end (the system still running): what
	// the phase left behind; a soak's growth.
	HeapStart, HeapEnd uint64
	PeakHeap           uint64 // heap objects (live and not yet swept), sampled
	MaxRSSBytes        int64  // the process's peak so far
	// PullStalls counts the bare loop's pulls that went unanswered until
	// its heartbeat check asked again (nextMsg): each slowed the phase by
	// up to two heartbeats, so a round with any is not a clean ceiling.
	PullStalls int64
}

// Deliveries is events × sinks.
func (r Result) Deliveries() int { return r.Events * r.Sinks }

// Report is a whole run.
type Report struct {
	Options Options
	Results []Result
}

// Run runs every round and returns the results; each round's table goes
// to o.Out as it finishes. The drain rounds come first, then the latency
// rounds, whose rate (unless o.Rate) is half the bare loop's median drain
// rate: its maximum, as measured here (the best round would be the one
// least disturbed by whatever else the machine ran, and on a noisy machine
// an outlier).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	rc, err := newReceiver()
	if err != nil {
		return nil, err
	}
	defer rc.close()
	var dest *cloudDest
	if o.Sink == "eventbridge" || o.Sink == "pubsub" {
		if o.Sink == "eventbridge" {
			awsEnv()
		}
		if dest, err = newCloudDest(ctx, o, rc); err != nil {
			return nil, err
		}
		defer dest.close()
	}
	rep := &Report{Options: o}
	var phases []string
	if o.Events > 0 {
		phases = append(phases, "drain")
	}
	if o.LatencyFor > 0 {
		phases = append(phases, "latency")
	}
	for _, phase := range phases {
		rate := o.Rate
		if phase == "latency" && rate == 0 {
			rate = rep.Median("drain", "bare", func(r Result) float64 { return r.EventsPerSec }) / 2
		}
		for round := 1; round <= o.Rounds; round++ {
			order := slices.Clone(o.Systems)
			if len(order) == 0 {
				order = []string{"bare", "product"}
			}
			if round%2 == 0 {
				slices.Reverse(order)
			}
			var roundResults []Result
			for _, name := range order {
				r, err := runPhase(ctx, o, rc, dest, phase, name, round, rate)
				if err != nil {
					return rep, fmt.Errorf("%s round %d, %s: %w", phase, round, name, err)
				}
				roundResults = append(roundResults, r)
			}
			slices.SortStableFunc(roundResults, func(a, b Result) int { return strings.Compare(a.System, b.System) })
			rep.Results = append(rep.Results, roundResults...)
			if o.Out != nil {
				fmt.Fprintf(o.Out, "%s, round %d of %d\n", phase, round, o.Rounds)
				writeTable(o.Out, roundResults)
				for _, r := range roundResults {
					if r.PullStalls > 0 {
						fmt.Fprintf(o.Out, "%s: %d pull(s) went unanswered until the heartbeat check (up to %s each): this round's figures are low\n",
							r.System, r.PullStalls, 2*bareHeartbeat)
					}
				}
				fmt.Fprintln(o.Out)
			}
		}
	}
	return rep, nil
}

// runPhase sets one system up on a fresh store and runs one phase:
//
//   - drain: the backlog is published first, untimed; then delivery
//     starts from a standing start, timed until the receiver has it all.
//   - latency: live publishing at rate to a running, idle system.
func runPhase(ctx context.Context, o Options, rc *receiver, dest *cloudDest, phase, name string, round int, rate float64) (Result, error) {
	var sys system
	var err error
	dest.reset()
	if name == "bare" {
		sys, err = newBare(ctx, o, rc, dest)
	} else {
		sys, err = newProduct(ctx, o, rc, dest)
	}
	if err != nil {
		return Result{}, err
	}
	defer sys.close()
	pub, err := newPublisher(sys.natsURL())
	if err != nil {
		return Result{}, err
	}
	defer pub.close()
	prefix := fmt.Sprintf("r%d-%s-", round, name)
	res := Result{Round: round, System: name, Phase: phase, Events: o.Events, Sinks: o.Sinks}

	if phase == "latency" {
		if rate <= 0 {
			return Result{}, errors.New("no rate (set one, or run the drain first)")
		}
		if err := sys.start(ctx); err != nil {
			return Result{}, err
		}
		time.Sleep(time.Second) // started and idle, connections not yet open
		res.Rate, res.Events = rate, max(1, int(rate*o.LatencyFor.Seconds()))
		t := rc.expect(res.Events, o.Sinks)
		m := begin(o)
		// A soak's heap profiles: "warm" a quarter of the way in (JetStream's
		// duplicate window and the pools have filled by then in a long
		// run), "end" when the last event is in.
		warm, end := o.AllocProfile[name+".latency.warm"], o.AllocProfile[name+".latency.end"]
		if w := o.CPUProfile[name+".latency"]; w != nil && round == 1 {
			if err := pprof.StartCPUProfile(w); err != nil {
				return Result{}, err
			}
			defer pprof.StopCPUProfile()
		}
		var warmErr chan error
		if warm != nil && round == 1 {
			warmErr = make(chan error, 1)
			timer := time.AfterFunc(o.LatencyFor/4, func() { warmErr <- writeInUseProfile(warm) })
			defer timer.Stop()
		}
		if err := pub.paced(ctx, prefix+"l", res.Events, o.Size, rate); err != nil {
			return Result{}, err
		}
		if warmErr != nil {
			if err := <-warmErr; err != nil {
				return Result{}, err
			}
		}
		if err := waitAll(ctx, t, time.Minute+time.Duration(res.Events*o.Sinks)*time.Millisecond); err != nil {
			return Result{}, stalled(err, sys)
		}
		res = m.end(res)
		res.PullStalls = sys.pullStalls()
		res.P50, res.P99 = percentiles(t.latency)
		if end != nil && round == 1 {
			if err := writeInUseProfile(end); err != nil {
				return Result{}, err
			}
		}
		return res, nil
	}

	t := rc.expect(o.Events, o.Sinks)
	if err := pub.backlog(ctx, prefix+"d", o.Events, o.Size); err != nil {
		return Result{}, err
	}
	profile := o.CPUProfile[name] != nil && round == 1
	allocs := o.AllocProfile[name+".before"] != nil && round == 1
	if allocs {
		if err := writeHeapProfile(o.AllocProfile[name+".before"]); err != nil {
			return Result{}, err
		}
	}
	m := begin(o)
	if profile {
		if err := pprof.StartCPUProfile(o.CPUProfile[name]); err != nil {
			return Result{}, err
		}
	}
	if err = sys.start(ctx); err == nil {
		err = waitAll(ctx, t, 2*time.Minute+time.Duration(o.Events*o.Sinks)*time.Millisecond)
	}
	if profile {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return Result{}, stalled(err, sys)
	}
	res = m.end(res)
	res.PullStalls = sys.pullStalls()
	if allocs {
		if err := writeHeapProfile(o.AllocProfile[name+".after"]); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// writeInUseProfile writes the heap in use after a collection (go tool
// pprof -sample_index=inuse_space).
func writeInUseProfile(w io.Writer) error {
	runtime.GC()
	return pprof.Lookup("heap").WriteTo(w, 0)
}

// writeHeapProfile writes the allocations up to the last collection; the
// collection first makes that "now".
func writeHeapProfile(w io.Writer) error {
	runtime.GC()
	return pprof.Lookup("allocs").WriteTo(w, 0)
}

// stalled adds to a phase's failure how many of the system's pulls went
// unanswered, which is where a stall would come from.
func stalled(err error, sys system) error {
	if n := sys.pullStalls(); n > 0 {
		return fmt.Errorf("%w (%d pull(s) went unanswered)", err, n)
	}
	return err
}

func waitAll(ctx context.Context, t *tally, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d deliveries: %w", t.count.Load(), len(t.seen), ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%d of %d deliveries after %s", t.count.Load(), len(t.seen), limit)
	}
}

func percentiles(ns []int64) (p50, p99 time.Duration) {
	s := slices.Clone(ns)
	slices.Sort(s)
	return time.Duration(s[len(s)/2]), time.Duration(s[min(len(s)-1, len(s)*99/100)])
}

// meter measures one timed section.
type meter struct {
	o        Options
	t0       time.Time
	cpu0     time.Duration
	busy0    time.Duration
	ms0      runtime.MemStats
	stop     chan struct{}
	peakDone chan uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all processes used since boot (Linux
// /proc/stat, in USER_HZ ticks taken as 1/100 s), or 0.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:min(len(f), 9)] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

func maxRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024 // KiB on Linux
}

func begin(o Options) *meter {
	runtime.GC() // both systems start from a collected heap
	m := &meter{o: o, stop: make(chan struct{}), peakDone: make(chan uint64, 1)}
	runtime.ReadMemStats(&m.ms0)
	go m.samplePeak()
	if o.Timed != nil {
		o.Timed(true)
	}
	m.busy0, m.cpu0, m.t0 = machineBusy(), cpuTime(), time.Now()
	return m
}

// samplePeak reads the heap's object bytes every 20 ms (runtime/metrics,
// no stop-the-world) until the section ends.
func (m *meter) samplePeak() {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var peak uint64
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			peak = max(peak, s[0].Value.Uint64())
		}
		select {
		case <-m.stop:
			m.peakDone <- peak
			return
		case <-tick.C:
		}
	}
}

func (m *meter) end(r Result) Result {
	r.Elapsed, r.CPUMicros = time.Since(m.t0), float64((cpuTime() - m.cpu0).Microseconds())
	r.OtherCores = -1
	if busy := machineBusy(); busy > 0 && m.busy0 > 0 {
		r.OtherCores = max(0, (busy-m.busy0).Seconds()-r.CPUMicros/1e6) / r.Elapsed.Seconds()
	}
	if m.o.Timed != nil {
		m.o.Timed(false)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	close(m.stop)
	r.PeakHeap = <-m.peakDone
	d := float64(r.Deliveries())
	r.EventsPerSec = float64(r.Events) / r.Elapsed.Seconds()
	r.Cores = r.CPUMicros / 1e6 / r.Elapsed.Seconds()
	r.CPUMicros /= d
	r.Allocs = float64(ms.Mallocs-m.ms0.Mallocs) / d
	r.AllocBytes = float64(ms.TotalAlloc-m.ms0.TotalAlloc) / d
	r.HeapInuse = ms.HeapInuse
	r.MaxRSSBytes = maxRSS()
	runtime.GC() // outside the timed section
	runtime.ReadMemStats(&ms)
	r.HeapStart, r.HeapEnd = m.ms0.HeapInuse, ms.HeapInuse
	return r
}

func others(c float64) string {
	if c < 0 {
		return "-"
	}
	return strconv.FormatFloat(c, 'f', 2, 64)
}

func mb(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func writeTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tsystem\tevents\tsinks\tseconds\tevents/s\tCPU µs/dlv\tcores\tothers\tallocs/dlv\tKB alloc/dlv\tp50 ms\tp99 ms\theap MB\tpeak heap MB\theap start/end MB\t")
	for _, r := range rs {
		phase := r.Phase
		if r.Phase == "latency" {
			phase = fmt.Sprintf("latency@%.0f/s", r.Rate)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.0f\t%.1f\t%.2f\t%s\t%.1f\t%.2f\t%s\t%s\t%s\t%s\t%s/%s\t\n", phase, r.System, r.Events, r.Sinks,
			r.Elapsed.Seconds(), r.EventsPerSec, r.CPUMicros, r.Cores, others(r.OtherCores), r.Allocs, r.AllocBytes/1024, ms(r.P50), ms(r.P99), mb(r.HeapInuse), mb(r.PeakHeap),
			mb(r.HeapStart), mb(r.HeapEnd))
	}
	_ = tw.Flush()
}

// Median is the median of f over the results of one phase and system.
func (rep *Report) Median(phase, system string, f func(Result) float64) float64 {
	var v []float64
	for _, r := range rep.Results {
		if r.Phase == phase && r.System == system {
			v = append(v, f(r))
		}
	}
	return median(v)
}

// Ratios is product/bare of f, one per round, for a phase.
func (rep *Report) Ratios(phase string, f func(Result) float64) []float64 {
	return pairedRatios(rep.Results, func(r Result) bool { return r.Phase == phase }, f)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// metricCols are the summary's columns.
var metricCols = []struct {
	name string
	f    func(Result) float64
	fmt  string
}{
	{"events/s", func(r Result) float64 { return r.EventsPerSec }, "%.0f"},
	{"CPU µs/dlv", func(r Result) float64 { return r.CPUMicros }, "%.1f"},
	{"cores", func(r Result) float64 { return r.Cores }, "%.2f"},
	{"others", func(r Result) float64 { return r.OtherCores }, "%.2f"},
	{"allocs/dlv", func(r Result) float64 { return r.Allocs }, "%.1f"},
	{"p50 ms", func(r Result) float64 { return float64(r.P50) / 1e6 }, "%.2f"},
	{"p99 ms", func(r Result) float64 { return float64(r.P99) / 1e6 }, "%.2f"},
	{"heap MB", func(r Result) float64 { return float64(r.HeapInuse) / (1 << 20) }, "%.1f"},
	{"peak heap MB", func(r Result) float64 { return float64(r.PeakHeap) / (1 << 20) }, "%.1f"},
	{"heap start MB", func(r Result) float64 { return float64(r.HeapStart) / (1 << 20) }, "%.1f"},
	{"heap end MB", func(r Result) float64 { return float64(r.HeapEnd) / (1 << 20) }, "%.1f"},
}

// WriteSummary prints the medians over rounds and, per metric, the
// median of the rounds' product/bare ratios (each round's pair ran back
// to back, so its ratio is the steadiest figure on a noisy machine) with
// their range.
func (rep *Report) WriteSummary(w io.Writer) {
	o := rep.Options
	sink := o.Sink
	if sink == "" {
		sink = "webhook"
	}
	if o.Delivery == config.DeliveryShared {
		sink += " (shared delivery)"
	}
	fmt.Fprintf(w, "summary: %s, %d round(s), %d events of %d bytes, %d sink(s), concurrency %d; medians over rounds; dlv = delivery (event × sink)\n",
		sink, o.Rounds, o.Events, o.Size, o.Sinks, o.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "phase\tsystem\t")
	for _, c := range metricCols {
		fmt.Fprintf(tw, "%s\t", c.name)
	}
	fmt.Fprintln(tw)
	ran := func(phase, sys string) bool { return rep.Median(phase, sys, func(Result) float64 { return 1 }) != 0 }
	for _, phase := range []string{"drain", "latency"} {
		for _, sys := range []string{"bare", "product"} {
			if !ran(phase, sys) {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t", phase, sys)
			for _, c := range metricCols {
				v := rep.Median(phase, sys, c.f)
				if v == 0 && strings.HasSuffix(c.name, " ms") { // not measured in this phase
					fmt.Fprint(tw, "-\t")
				} else {
					fmt.Fprintf(tw, c.fmt+"\t", v)
				}
			}
			fmt.Fprintln(tw)
		}
		if !ran(phase, "bare") || !ran(phase, "product") {
			continue
		}
		fmt.Fprintf(tw, "%s\tproduct/bare\t", phase)
		for _, c := range metricCols {
			r := rep.Ratios(phase, c.f)
			switch {
			case c.name == "others" || len(r) == 0 || median(r) == 0: // others: context, not a cost
				fmt.Fprint(tw, "-\t")
			case len(r) == 1:
				fmt.Fprintf(tw, "%.2f\t", r[0])
			default:
				fmt.Fprintf(tw, "%.2f (%.2f–%.2f)\t", median(r), r[0], r[len(r)-1])
			}
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	if n := rep.stalledPhases(); n > 0 {
		fmt.Fprintf(w, "%d phase(s) of the bare loop had pulls that went unanswered (see the rounds above): the ratios in their rounds are high\n", n)
	}
	fmt.Fprintf(w, "max RSS of the process: %s MB\n", mb(uint64(maxRSS())))
}

func (rep *Report) stalledPhases() (n int) {
	for _, r := range rep.Results {
		if r.PullStalls > 0 {
			n++
		}
	}
	return n
}
