package console

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
)

// init adds the attempt log's page, filtered.
func init() {
	addPage("GET /logs", (*server).logsPage)
}

// outcomes are the attempt log's outcomes.
var outcomes = []string{"delivered", "retried", "rate_limited", "dead_lettered", "canceled"}

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
