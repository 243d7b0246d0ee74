package scale

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is every figure of a run.
type Report struct {
	Command   string    `json:"command"`
	Started   time.Time `json:"started"`
	Endpoints int       `json:"endpoints"`
	Tenants   int       `json:"tenants"`
	Clients   int       `json:"clients"`
	Delivery  string    `json:"delivery"`
	Faulty    bool      `json:"faulty"`
	// Modes counts the sinks by the delivery the gateway reports for them
	// (GET /v1/sinks "delivery"), read at the end.
	Modes map[string]int `json:"modes"`
	// Load is the machine's load average (1, 5, 15 min) at each phase's
	// end: start, after_create, idle, end.
	Load       map[string]string `json:"load"`
	Create     CreateReport      `json:"create"`
	Memory     MemoryReport      `json:"memory"`
	IdleCPU    float64           `json:"idle_cpu_percent"` // of one core, over the idle window
	IdleS      float64           `json:"idle_s"`
	Goroutines struct {
		Before int `json:"before"` // -1: not readable
		After  int `json:"after"`
		Later  int `json:"later,omitempty"` // Memory.LaterS after the events
	} `json:"goroutines"`
	// Consumers are the JetStream consumers of the gateway's account
	// (every stream), before the first create and after the idle window.
	Consumers struct {
		Before int `json:"before"` // -1: not readable
		After  int `json:"after"`
	} `json:"consumers"`
	Fanout *FanoutReport `json:"fanout,omitempty"`
	// Error is what stopped the run part way; the phases after it are
	// left out of the summary.
	Error     string           `json:"error,omitempty"`
	Isolation *IsolationReport `json:"isolation,omitempty"`
}

// MemoryReport is the gateway process's resident memory.
type MemoryReport struct {
	RSSBeforeMB float64 `json:"rss_before_mb"` // before the first create
	RSSAfterMB  float64 `json:"rss_after_mb"`  // SettleS (5 s) after the last
	SettleS     float64 `json:"settle_s"`
	// PerEndpointKB is (after − before) / endpoints.
	PerEndpointKB float64 `json:"per_endpoint_kb"`
	// The live heap after a collection (the child's /debug/pprof/heap;
	// -1: not readable): before the first create, after the idle window.
	HeapBeforeMB      float64 `json:"heap_before_mb"`
	HeapAfterMB       float64 `json:"heap_after_mb"`
	HeapPerEndpointKB float64 `json:"heap_per_endpoint_kb"`
	// RSS and heap right after the events arrived, and LaterS (100 s)
	// after that.
	RSSEndMB    float64 `json:"rss_end_mb"`
	HeapEndMB   float64 `json:"heap_end_mb"`
	LaterS      float64 `json:"later_s,omitempty"`
	RSSLaterMB  float64 `json:"rss_later_mb,omitempty"`
	HeapLaterMB float64 `json:"heap_later_mb,omitempty"`
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteSummary writes the report for a person.
func (r *Report) WriteSummary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("switchyard scale: %d endpoints over %d tenants, %d clients, delivery %s%s", r.Endpoints, r.Tenants, r.Clients, r.Delivery, map[bool]string{true: ", faulty"}[r.Faulty])
	p("  command: %s", r.Command)
	p("  started: %s; load (1/5/15 min): %s", r.Started.Format(time.RFC3339), r.loads())
	if len(r.Modes) > 0 {
		p("  sinks by delivery, as the gateway reports them: %s", modes(r.Modes))
	}
	c := r.Create
	p("create:    %d created, %d failed in %.1f s (%.1f/s); each: median %.1f ms, p99 %.1f ms, max %.1f ms", c.OK, c.Failed, c.TotalS, c.RatePerS, c.Latency.P50ms, c.Latency.P99ms, c.Latency.Maxms)
	if c.Failed > 0 {
		p("           answers: %s; first failure: %s", statuses(c.Statuses), c.FirstError)
	}
	if r.Error != "" {
		defer p("stopped:   %s", r.Error)
	}
	m := r.Memory
	if m.RSSAfterMB == 0 {
		return
	}
	p("memory:    RSS %.1f MB before the first create → %.1f MB %.0f s after the last: %.1f KB per endpoint", m.RSSBeforeMB, m.RSSAfterMB, m.SettleS, m.PerEndpointKB)
	p("           live heap %.1f MB → %.1f MB after the idle window: %.1f KB per endpoint", m.HeapBeforeMB, m.HeapAfterMB, m.HeapPerEndpointKB)
	if r.IdleS == 0 {
		return
	}
	p("idle CPU:  %.1f%% of one core over %.0f s", r.IdleCPU, r.IdleS)
	p("goroutines: %s before, %s after%s; JetStream consumers: %s before, %s after%s",
		count(r.Goroutines.Before), count(r.Goroutines.After), perEndpoint(r.Goroutines.Before, r.Goroutines.After, r.Endpoints),
		count(r.Consumers.Before), count(r.Consumers.After), perEndpoint(r.Consumers.Before, r.Consumers.After, r.Endpoints))
	if f := r.Fanout; f != nil {
		p("fan-out:   %d events (one per tenant): %d of %d deliveries within %.0f s; publish → receipt p50 %s, p99 %s, max %s (published in %.2f s)",
			f.Events, f.Delivered, f.Expected, f.WithinS, sec(f.Latency.P50ms), sec(f.Latency.P99ms), sec(f.Latency.Maxms), f.PublishS)
	}
	if m.RSSEndMB > 0 {
		p("after the events: RSS %.1f MB, live heap %.1f MB", m.RSSEndMB, m.HeapEndMB)
	}
	if m.LaterS > 0 {
		p("%.0f s later: RSS %.1f MB, live heap %.1f MB, %s goroutines", m.LaterS, m.RSSLaterMB, m.HeapLaterMB, count(r.Goroutines.Later))
	}
	if is := r.Isolation; is != nil {
		p("isolation: %d events per tenant; pauses confirmed in %.1f s; paused endpoints resumed at +%.0f s", is.EventsPerTenant, is.PauseConfirmS, is.ResumeAfterS)
		h := is.Healthy
		p("  healthy: %d endpoints: %d of %d delivered within %.0f s; publish → receipt p50 %s, p99 %s, max %s", h.Endpoints, h.Within, h.Expected, is.WindowS, sec(h.Latency.P50ms), sec(h.Latency.P99ms), sec(h.Latency.Maxms))
		for _, g := range []struct {
			name string
			g    Group
		}{{"503", is.Failing}, {"hanging", is.Hanging}} {
			p("  %s: %d endpoints: %d of %d events tried within %.0f s (%d requests); %d dead letters at %.0f s", g.name, g.g.Endpoints, g.g.Within, g.g.Expected, is.WindowS, g.g.Requests, g.g.DeadLetters, is.DeadLettersAtS)
		}
		ps := is.Paused
		p("  paused:  %d endpoints: %d of %d received while paused; %d of %d within %.0f s of resume; resume → receipt p50 %s, p99 %s, max %s", ps.Endpoints, ps.WhilePaused, ps.Expected, ps.Within, ps.Expected, is.ResumeWindowS, sec(ps.Latency.P50ms), sec(ps.Latency.P99ms), sec(ps.Latency.Maxms))
	}
}

func (r *Report) loads() string {
	var out []string
	for _, k := range []string{"start", "after_create", "idle", "end"} {
		if v, ok := r.Load[k]; ok {
			out = append(out, k+" "+v)
		}
	}
	return strings.Join(out, "; ")
}

func statuses(m map[int]int) string {
	var codes []int
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var out []string
	for _, c := range codes {
		label := fmt.Sprint(c)
		if c == 0 {
			label = "no answer"
		}
		out = append(out, fmt.Sprintf("%s ×%d", label, m[c]))
	}
	return strings.Join(out, ", ")
}

func modes(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(out, ", ")
}

// perEndpoint is " (x per endpoint)" when both counts were read.
func perEndpoint(before, after, endpoints int) string {
	if before < 0 || after < 0 || endpoints == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.1f per endpoint)", float64(after-before)/float64(endpoints))
}

func count(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// sec shows milliseconds as a duration rounded for reading.
func sec(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.String()
}
