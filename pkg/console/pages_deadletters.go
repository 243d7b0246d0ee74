package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// init adds the page of a sink's dead letters.
func init() {
	addPage("GET /sinks/{name}/dead-letters", (*server).deadLettersPage)
}

// DeadLettersReader is what the pages read of the admin API's DeadLetters
// role: a sink's dead letters.
type DeadLettersReader interface {
	DeadLetters(ctx context.Context, sink string, f deadletter.Filter) ([]deadletter.Record, error)
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
