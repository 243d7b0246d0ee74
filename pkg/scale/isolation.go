package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// eventsPerTenant are the isolation run's events per tenant.
const eventsPerTenant = 5

// isoClock is the isolation run's clock, from the first publish: the
// healthy endpoints' and the failing ones' window, the resume of the
// paused ones, the paused ones' window after it, and when dead letters
// are counted. The test runs a faster one.
type isoClock struct {
	window, resumeAfter, resumeWindow, deadLettersAt time.Duration
}

var issueClock = isoClock{window: 30 * time.Second, resumeAfter: 15 * time.Second, resumeWindow: 20 * time.Second, deadLettersAt: time.Minute}

// IsolationReport is the run with failing, hanging and paused endpoints.
type IsolationReport struct {
	EventsPerTenant int `json:"events_per_tenant"`
	// The clock, from the first publish: the window of the healthy and
	// failing endpoints (30 s), the resume (15 s), the paused endpoints'
	// window after their resume (20 s), the dead letters' count (60 s).
	WindowS        float64 `json:"window_s"`
	ResumeAfterS   float64 `json:"resume_after_s"`
	ResumeWindowS  float64 `json:"resume_window_s"`
	DeadLettersAtS float64 `json:"dead_letters_at_s"`
	// PauseConfirmS is how long the pauses took until every paused
	// endpoint showed state paused.
	PauseConfirmS float64 `json:"pause_confirm_s"`
	Healthy       Group   `json:"healthy"`
	Failing       Group   `json:"failing_503"`
	Hanging       Group   `json:"hanging"`
	Paused        Group   `json:"paused"`
}

// Group is what a kind of endpoint got. For healthy ones Within is the
// pairs delivered within the window (30 s) of the first publish; for
// failing and hanging ones the pairs tried at least once within it; for
// paused ones the pairs delivered within 20 s of their resume.
type Group struct {
	Endpoints int `json:"endpoints"`
	Expected  int `json:"expected"`
	Within    int `json:"within"`
	// Requests are the receiver's requests for these pairs (attempts).
	Requests int `json:"requests"`
	// Latency: publish → first receipt (from resume → first receipt for
	// paused endpoints).
	Latency Dist `json:"latency"`
	// DeadLetters are the group's dead letters one minute after the first
	// publish.
	DeadLetters uint64 `json:"dead_letters"`
	// WhilePaused are pairs that arrived before their endpoint's resume.
	WhilePaused int `json:"while_paused,omitempty"`
}

// isolation pauses every 50th endpoint, publishes five events per tenant,
// resumes the paused endpoints 15 s later and reads the dead letters at
// one minute.
func isolation(ctx context.Context, g *gateway, rc *receiver, top *topology, o Options) (*IsolationReport, error) {
	clk := o.iso
	if clk == (isoClock{}) {
		clk = issueClock
	}
	rep := &IsolationReport{EventsPerTenant: eventsPerTenant, WindowS: clk.window.Seconds(),
		ResumeAfterS: clk.resumeAfter.Seconds(), ResumeWindowS: clk.resumeWindow.Seconds(), DeadLettersAtS: clk.deadLettersAt.Seconds()}
	pausedEps := top.createdOf(paused)
	t0 := time.Now()
	for _, i := range pausedEps {
		if code, b, err := g.do(ctx, "POST", "/v1/sinks/"+top.name[i]+"/pause", `{"reason":"switchyard scale"}`); err != nil || code != 200 {
			return rep, fmt.Errorf("pause %s: %d %s %v", top.name[i], code, truncate(string(b), 300), err)
		}
	}
	// Every pause is in effect before the first event.
	deadline := time.Now().Add(30 * time.Second)
	for _, i := range pausedEps {
		for {
			var s struct {
				State string `json:"state"`
			}
			code, b, err := g.do(ctx, "GET", "/v1/sinks/"+top.name[i], "")
			if err == nil && code == 200 && json.Unmarshal(b, &s) == nil && s.State == "paused" {
				break
			}
			if time.Now().After(deadline) {
				return rep, fmt.Errorf("%s not paused within 30 s (state %q, %d, %v)", top.name[i], s.State, code, err)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return rep, err
			}
		}
	}
	rep.PauseConfirmS = time.Since(t0).Seconds()

	p, err := publish(ctx, g.natsURL, "iso", len(top.byTenant), eventsPerTenant)
	if err != nil {
		return rep, err
	}
	start := p.first()
	o.progress("published %d events in %.1f s; resuming the %d paused endpoints at +%s …", len(p.at), p.took.Seconds(), len(pausedEps), clk.resumeAfter)
	if err := sleep(ctx, time.Until(start.Add(clk.resumeAfter))); err != nil {
		return rep, err
	}
	resumedAt := map[int]time.Time{}
	for _, i := range pausedEps {
		resumedAt[i] = time.Now()
		if code, b, err := g.do(ctx, "POST", "/v1/sinks/"+top.name[i]+"/resume", ""); err != nil || code != 200 {
			return rep, fmt.Errorf("resume %s: %d %s %v", top.name[i], code, truncate(string(b), 300), err)
		}
	}
	o.progress("waiting until +%s for the dead letters …", clk.deadLettersAt)
	if err := sleep(ctx, time.Until(start.Add(clk.deadLettersAt))); err != nil {
		return rep, err
	}
	dead, err := deadLetters(ctx, g)
	if err != nil {
		return rep, err
	}

	group := func(b behaviour) Group {
		eps := top.createdOf(b)
		gr := Group{Endpoints: len(eps)}
		var lat []time.Duration
		for _, i := range eps {
			gr.DeadLetters += dead[top.name[i]]
			for _, id := range p.ids[top.tenant[i]] {
				gr.Expected++
				h, ok := rc.seen(i, id)
				if !ok {
					continue
				}
				gr.Requests += h.n
				if b == paused {
					if h.first.Before(resumedAt[i]) {
						gr.WhilePaused++
						continue
					}
					d := h.first.Sub(resumedAt[i])
					lat = append(lat, d)
					if d <= clk.resumeWindow {
						gr.Within++
					}
					continue
				}
				d := h.first.Sub(p.at[id])
				lat = append(lat, d)
				if h.first.Sub(start) <= clk.window {
					gr.Within++
				}
			}
		}
		gr.Latency = distOf(lat)
		return gr
	}
	rep.Healthy, rep.Failing, rep.Hanging, rep.Paused = group(healthy), group(failing), group(hanging), group(paused)
	return rep, nil
}

// sinkRow is what the harness reads of a sink in GET /v1/sinks.
type sinkRow struct {
	Name        string `json:"name"`
	Delivery    string `json:"delivery"`
	State       string `json:"state"`
	DeadLetters uint64 `json:"dead_letters"`
}

// listSinks reads every sink from the sinks list (pages of 1000,
// X-Next-Cursor).
func listSinks(ctx context.Context, g *gateway) ([]sinkRow, error) {
	var out []sinkRow
	cursor := ""
	for range 10000 {
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		code, b, h, err := g.doHeader(ctx, "GET", "/v1/sinks?"+q.Encode(), "")
		if err != nil || code != 200 {
			return out, fmt.Errorf("list sinks: %d %s %v", code, truncate(string(b), 300), err)
		}
		var page []sinkRow
		if err := json.Unmarshal(b, &page); err != nil {
			return out, fmt.Errorf("list sinks: %w", err)
		}
		out = append(out, page...)
		if cursor = h.Get("X-Next-Cursor"); cursor == "" {
			return out, nil
		}
	}
	return out, fmt.Errorf("list sinks: too many pages")
}

// deadLetters reads every sink's dead-letter count.
func deadLetters(ctx context.Context, g *gateway) (map[string]uint64, error) {
	rows, err := listSinks(ctx, g)
	out := make(map[string]uint64, len(rows))
	for _, r := range rows {
		out[r.Name] = r.DeadLetters
	}
	return out, err
}
