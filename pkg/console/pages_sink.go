package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// init adds one sink's page, and the form for a new one.
func init() {
	addPage("GET /sinks/new", (*server).newSinkPage)
	addPage("GET /sinks/{name}", (*server).sinkPage)
}

// EndpointsReader is what the pages read of the admin API's Endpoints
// role: one sink's view.
type EndpointsReader interface {
	GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error)
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
		d.Status = gatewayapi.SinkStatus{Name: name, State: view.State, StateReason: view.StateReason, Delivery: view.Delivery}
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
