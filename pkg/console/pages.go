package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// states are the sink states the list filters by.
var states = []string{"running", "paused", "open", "half_open", "degraded", "disabled", "conflict", "refused", "failed"}

// outcomes are the attempt log's outcomes.
var outcomes = []string{"delivered", "retried", "rate_limited", "dead_lettered", "canceled"}

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

// liveKeys are the fields of a SinkView that are state, not definition.
var liveKeys = []string{"state", "state_reason", "pending", "ack_pending", "redelivered", "in_flight", "dead_letters", "delivered", "failed", "oldest_pending_seconds", "latency_p99_seconds", "last_success", "last_error", "last_error_time", "warnings", "source", "capabilities"}

type sinkData struct {
	Name   string
	Status gatewayapi.SinkStatus
	Config string // the definition, pretty JSON, secrets as fingerprints
	API    bool   // editable through the endpoints API
	Kind   string
	// RotateSecret: the sink's kind holds secrets the gateway rotates
	// (the view's capabilities say so).
	RotateSecret bool
	Edit         editForm
	Chart        chart
	Recent       []attempts.Record
	Replays      []gatewayapi.ReplayStatus
	Disabled     bool
}

// editForm pre-fills the edit form of an API sink.
type editForm struct {
	Events, URL, Headers, Description string
	HeadersJSON                       string // the current headers, to null the removed ones in the patch
	// Block is the key of the kind's block whose url and headers the form
	// edits; "" when the kind has no edit target.
	Block string
}

func (s *server) sinkPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	view, err := s.b.Endpoints.GetSink(r.Context(), name)
	if errors.Is(err, gatewayapi.ErrUnknownSink) || errors.Is(err, gatewayapi.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "error", page{Title: "No such sink", Nav: "sinks", Error: "There is no sink named " + strconv.Quote(name) + "."})
		return
	}
	if err != nil {
		s.fail(w, r, name, err)
		return
	}
	d := sinkData{Name: name}
	all, err := s.b.Sinks.Sinks(r.Context())
	if err != nil {
		s.fail(w, r, name, err)
		return
	}
	for _, st := range all {
		if st.Name == name {
			d.Status = st
		}
	}
	if d.Status.Name == "" { // not running: the view carries the state
		d.Status = gatewayapi.SinkStatus{Name: name, State: view.State, StateReason: view.StateReason}
	}
	d.API = view.Source == gatewayapi.SourceAPI
	d.Config = prettyJSON(definitionOf(view))
	d.Kind = d.Status.Kind
	d.Edit = editFormOf(view, d.Kind)
	d.RotateSecret = hasCapability(view, sink.CapRotateSecret)
	d.Disabled = d.Status.State == "disabled"

	since := time.Now().Add(-time.Hour).Truncate(time.Minute)
	recs, err := s.b.Events.Attempts(r.Context(), attempts.Query{Sink: name, Since: since, Limit: 1000})
	if err != nil {
		s.fail(w, r, name, err)
		return
	}
	d.Chart = chartOf(recs, since, time.Now(), len(recs) >= 1000)
	for i := len(recs) - 1; i >= 0 && len(d.Recent) < 25; i-- {
		d.Recent = append(d.Recent, recs[i])
	}
	s.render(w, r, http.StatusOK, "sink", page{Title: name, Nav: "sinks", Data: d})
}

// definitionOf is what the sink page shows as the definition: the view's
// fields on the wire but for the live ones.
func definitionOf(view gatewayapi.SinkView) map[string]any {
	def := map[string]any{}
	b, err := json.Marshal(view)
	if err != nil {
		return def
	}
	_ = json.Unmarshal(b, &def)
	for _, k := range liveKeys {
		delete(def, k)
	}
	return def
}

// hasCapability reports whether a sink view lists the capability.
func hasCapability(view gatewayapi.SinkView, c string) bool {
	return slices.Contains(view.Capabilities, c)
}

// editFormOf pre-fills the edit form from a sink's view; kind names the
// block that holds the edit target, when the kind has one.
func editFormOf(view gatewayapi.SinkView, kind string) editForm {
	e := editForm{Events: strings.Join(view.Events, ", "), HeadersJSON: "{}"}
	def := view.Definition
	if def == nil {
		return e
	}
	e.Description = def.Description
	if def.Kind() == kind && hasCapability(view, sink.CapEditTarget) {
		wh := def.Dest.Map()
		e.Block = kind
		e.URL, _ = wh["url"].(string)
		if h, ok := wh["headers"].(map[string]any); ok && len(h) > 0 {
			var lines []string
			for k, v := range h {
				lines = append(lines, k+": "+toString(v))
			}
			sort.Strings(lines)
			e.Headers = strings.Join(lines, "\n")
			e.HeadersJSON = prettyJSON(h)
		}
	}
	return e
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return prettyJSON(v)
}

func (s *server) newSinkPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "newsink", page{Title: "New sink", Nav: "sinks"})
}

// timeParam reads a time from a query parameter: RFC 3339, or a
// datetime-local input's value taken as UTC.
func timeParam(q url.Values, key string) (time.Time, error) {
	v := strings.TrimSpace(q.Get(key))
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New(key + ": " + strconv.Quote(v) + " is not a time (use 2006-01-02T15:04, UTC)")
}

type eventRow struct {
	ID, Type, Tenant string
	First, Last      time.Time
	Attempts         int
	Sinks            []string
	Outcome          string
}

type eventsData struct {
	ID, Type, Tenant, Since, Until string
	Rows                           []eventRow
	Searched, Truncated            bool
}

func (s *server) eventsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if id := strings.TrimSpace(q.Get("id")); id != "" {
		http.Redirect(w, r, "/events/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	d := eventsData{Type: q.Get("type"), Tenant: q.Get("tenant"), Since: q.Get("since"), Until: q.Get("until")}
	p := page{Title: "Events", Nav: "events"}
	since, err1 := timeParam(q, "since")
	until, err2 := timeParam(q, "until")
	if err := errors.Join(err1, err2); err != nil {
		p.Error = err.Error()
	} else if d.Type != "" || d.Tenant != "" || !since.IsZero() || !until.IsZero() {
		d.Searched = true
		if since.IsZero() {
			since = time.Now().Add(-24 * time.Hour)
		}
		recs, err := s.b.Events.Attempts(r.Context(), attempts.Query{Type: d.Type, Tenant: d.Tenant, Since: since, Until: until, Limit: 1000})
		if err != nil {
			p.Error = err.Error()
		}
		d.Truncated = len(recs) >= 1000
		byID := map[string]int{}
		for _, rec := range recs {
			i, ok := byID[rec.EventID]
			if !ok {
				i = len(d.Rows)
				byID[rec.EventID] = i
				d.Rows = append(d.Rows, eventRow{ID: rec.EventID, Type: rec.Type, Tenant: rec.Tenant, First: rec.Time})
			}
			row := &d.Rows[i]
			row.Attempts++
			row.Last, row.Outcome = rec.Time, rec.Outcome
			if !slices.Contains(row.Sinks, rec.Sink) {
				row.Sinks = append(row.Sinks, rec.Sink)
			}
		}
		slices.Reverse(d.Rows)
		if len(d.Rows) > 200 {
			d.Rows = d.Rows[:200]
		}
	}
	p.Data = d
	s.render(w, r, http.StatusOK, "events", p)
}

type eventData struct {
	Event   *gatewayapi.EventView
	Payload payload
	TraceID string
	Headers []header
}

type header struct{ Key, Value string }

func (s *server) eventPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ev, err := s.b.Events.Event(r.Context(), id)
	if errors.Is(err, gatewayapi.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "error", page{Title: "No such event", Nav: "events", Error: "No event with id " + strconv.Quote(id) + " is in the stream or the attempt log."})
		return
	}
	if err != nil {
		s.fail(w, r, "Event "+id, err)
		return
	}
	d := eventData{Event: ev, Payload: showPayload(ev.Data)}
	for k, vs := range ev.Headers {
		for _, v := range vs {
			d.Headers = append(d.Headers, header{k, v})
			// W3C traceparent: version-traceid-spanid-flags.
			if strings.EqualFold(k, "traceparent") {
				if parts := strings.Split(v, "-"); len(parts) == 4 {
					d.TraceID = parts[1]
				}
			}
		}
	}
	sort.Slice(d.Headers, func(i, j int) bool { return d.Headers[i].Key < d.Headers[j].Key })
	s.render(w, r, http.StatusOK, "event", page{Title: "Event " + id, Nav: "events", Data: d})
}

type logsData struct {
	Sinks                                       []string
	Outcomes                                    []string
	Sink, Tenant, Status, Outcome, Since, Until string
	Rows                                        []attempts.Record
	Truncated                                   bool
}

func (s *server) logsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := logsData{Outcomes: outcomes, Sink: q.Get("sink"), Tenant: q.Get("tenant"), Status: q.Get("status"), Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
	p := page{Title: "Logs", Nav: "logs"}
	all, err := s.b.Sinks.Sinks(r.Context())
	if err != nil {
		s.fail(w, r, "Logs", err)
		return
	}
	for _, st := range all {
		d.Sinks = append(d.Sinks, st.Name)
	}
	since, err1 := timeParam(q, "since")
	until, err2 := timeParam(q, "until")
	status, err3 := 0, error(nil)
	if d.Status != "" {
		if status, err3 = strconv.Atoi(d.Status); err3 != nil {
			err3 = errors.New("status must be a number such as 500")
		}
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		p.Error = err.Error()
		p.Data = d
		s.render(w, r, http.StatusOK, "logs", p)
		return
	}
	if since.IsZero() {
		since = time.Now().Add(-24 * time.Hour)
	}
	recs, err := s.b.Events.Attempts(r.Context(), attempts.Query{Sink: d.Sink, Tenant: d.Tenant, Status: status, Outcome: d.Outcome, Since: since, Until: until, Limit: 1000})
	if err != nil {
		p.Error = err.Error()
	}
	d.Truncated = len(recs) >= 1000
	for i := len(recs) - 1; i >= 0 && len(d.Rows) < 200; i-- {
		d.Rows = append(d.Rows, recs[i])
	}
	p.Data = d
	s.render(w, r, http.StatusOK, "logs", p)
}

type deadData struct {
	Sink                       string
	Type, Reason, Since, Until string
	Records                    []deadletter.Record
	AllCount                   string // how many the filter matches, for the confirmation
	Filter                     string // the filter as a query string for the API
	Page                       int
}

// deadPage is how many dead letters one page lists.
const deadPage = 100

func (s *server) deadLettersPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	d := deadData{Sink: name, Type: q.Get("type"), Reason: q.Get("reason"), Since: q.Get("since"), Until: q.Get("until")}
	p := page{Title: "Dead letters of " + name, Nav: "sinks"}
	since, err1 := timeParam(q, "since")
	until, err2 := timeParam(q, "until")
	if err := errors.Join(err1, err2); err != nil {
		p.Error = err.Error()
		p.Data = d
		s.render(w, r, http.StatusOK, "deadletters", p)
		return
	}
	f := deadletter.Filter{Type: d.Type, Reason: d.Reason, Since: since, Until: until}
	api := url.Values{}
	for k, v := range map[string]string{"type": d.Type, "reason": d.Reason} {
		if v != "" {
			api.Set(k, v)
		}
	}
	if !since.IsZero() {
		api.Set("since", since.Format(time.RFC3339Nano))
	}
	if !until.IsZero() {
		api.Set("until", until.Format(time.RFC3339Nano))
	}
	d.Filter = api.Encode()
	// Count what "all matching" would touch, up to a bound.
	f.Limit = 1001
	recs, err := s.b.DeadLetters.DeadLetters(r.Context(), name, f)
	if errors.Is(err, gatewayapi.ErrUnknownSink) {
		s.render(w, r, http.StatusNotFound, "error", page{Title: "No such sink", Nav: "sinks", Error: "There is no sink named " + strconv.Quote(name) + "."})
		return
	}
	if err != nil {
		s.fail(w, r, p.Title, err)
		return
	}
	d.AllCount = strconv.Itoa(len(recs))
	if len(recs) > 1000 {
		d.AllCount = "more than 1000"
	}
	d.Records = recs[:min(len(recs), deadPage)]
	p.Data = d
	s.render(w, r, http.StatusOK, "deadletters", p)
}

type replayData struct {
	Sinks   []string
	Sink    string
	Watch   string // a replay id to follow
	Replays []gatewayapi.ReplayStatus
	Since   string
}

func (s *server) replayPage(w http.ResponseWriter, r *http.Request) {
	all, err := s.b.Sinks.Sinks(r.Context())
	if err != nil {
		s.fail(w, r, "Replay", err)
		return
	}
	d := replayData{Sink: r.URL.Query().Get("sink"), Watch: r.URL.Query().Get("id"), Since: time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}
	for _, st := range all {
		d.Sinks = append(d.Sinks, st.Name)
	}
	d.Replays = s.b.Replays.Replays()
	sort.Slice(d.Replays, func(i, j int) bool { return d.Replays[i].Started.After(d.Replays[j].Started) })
	s.render(w, r, http.StatusOK, "replay", page{Title: "Replay", Nav: "replay", Data: d})
}
