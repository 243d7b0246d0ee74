package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// init adds the events search and the page of one event with its attempts.
func init() {
	addPage("GET /events", (*server).eventsPage)
	addPage("GET /events/{id}", (*server).eventPage)
}

// EventsReader is what the pages read of the admin API's Events role:
// attempts by query, and one event with its attempts.
type EventsReader interface {
	Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error)
	Event(ctx context.Context, id string) (*gatewayapi.EventView, error)
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
