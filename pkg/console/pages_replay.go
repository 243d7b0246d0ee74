package console

import (
	"net/http"
	"sort"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// init adds the replays' page: starting one, and those running or done.
func init() {
	addPage("GET /replay", (*server).replayPage)
}

// ReplaysReader is what the pages read of the admin API's Replays role:
// the replays running or done.
type ReplaysReader interface {
	Replays() []gatewayapi.ReplayStatus
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
