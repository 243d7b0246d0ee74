package console

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// init adds the sinks list, and its rows alone for the list to poll.
func init() {
	addPage("GET /{$}", (*server).sinksPage)
	addPage("GET /sinks/rows", (*server).sinkRows)
}

// SinksReader is what the pages read of the admin API's Sinks role: the
// live state of every sink.
type SinksReader interface {
	Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error)
}

// states are the sink states the list filters by.
var states = []string{"running", "paused", "open", "half_open", "degraded", "disabled", "conflict", "refused", "failed"}

// sinkRow is one line of the sinks list.
type sinkRow struct {
	gatewayapi.SinkStatus
	Rate    float64 // attempts a second since the last look
	Backlog uint64
	Success string
}

type sinksData struct {
	Rows           []sinkRow
	Tenants        []string
	States         []string
	Tenant, State  string
	Total, Showing int
	Updated        string
}

func (s *server) sinksData(r *http.Request) (sinksData, error) {
	all, err := s.b.Sinks.Sinks(r.Context())
	if err != nil {
		return sinksData{}, err
	}
	q := r.URL.Query()
	d := sinksData{Tenant: q.Get("tenant"), State: q.Get("state"), States: states, Total: len(all), Updated: time.Now().UTC().Format("15:04:05")}
	now := time.Now()
	seen := map[string]bool{}
	for _, st := range all {
		if st.Tenant != "" && !seen[st.Tenant] {
			seen[st.Tenant] = true
			d.Tenants = append(d.Tenants, st.Tenant)
		}
		row := sinkRow{SinkStatus: st, Rate: s.rates.rate(st.Name, st.Delivered+st.Failed, now), Backlog: st.Pending + uint64(max(st.AckPending, 0)), Success: "–"}
		if n := st.Delivered + st.Failed; n > 0 {
			row.Success = strconv.FormatFloat(100*float64(st.Delivered)/float64(n), 'f', 1, 64) + "%"
		}
		if (d.Tenant == "" || st.Tenant == d.Tenant) && (d.State == "" || st.State == d.State) {
			d.Rows = append(d.Rows, row)
		}
	}
	sort.Strings(d.Tenants)
	d.Showing = len(d.Rows)
	return d, nil
}

func (s *server) sinksPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.sinksData(r)
	if err != nil {
		s.fail(w, r, "Sinks", err)
		return
	}
	s.render(w, r, http.StatusOK, "sinks", page{Title: "Sinks", Nav: "sinks", Data: d})
}

// sinkRows is the list's body alone, which the page fetches every 2 s.
func (s *server) sinkRows(w http.ResponseWriter, r *http.Request) {
	d, err := s.sinksData(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages["sinks"].ExecuteTemplate(w, "rows", d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// rateTracker turns each sink's attempt counters into attempts a second
// between two looks at the list (the list polls every 2 s). It is display
// state only, kept per process.
type rateTracker struct {
	mu   sync.Mutex
	last map[string]sample
}

type sample struct {
	count uint64
	at    time.Time
	rate  float64
}

func (rt *rateTracker) rate(name string, count uint64, now time.Time) float64 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	prev, ok := rt.last[name]
	if !ok || count < prev.count {
		rt.last[name] = sample{count: count, at: now}
		return 0
	}
	dt := now.Sub(prev.at).Seconds()
	if dt < 1 {
		return prev.rate
	}
	r := float64(count-prev.count) / dt
	rt.last[name] = sample{count: count, at: now, rate: r}
	return r
}
