package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"sort"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// GetSink is one sink, from the file or the API, with its live state.
func (e *Endpoints) GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	return e.view(ctx, name)
}

// ListSinks is a page of sinks by name, from the file and the API.
func (e *Endpoints) ListSinks(ctx context.Context, q gatewayapi.SinkQuery) (gatewayapi.SinkPage, error) {
	names := e.names(q.Tenant)
	var page gatewayapi.SinkPage
	i := sort.SearchStrings(names, q.Cursor)
	if i < len(names) && names[i] == q.Cursor {
		i++
	}
	if q.Cursor == "" {
		i = 0
	}
	for ; i < len(names); i++ {
		if q.Limit > 0 && len(page.Sinks) == q.Limit {
			page.Next = names[i-1]
			break
		}
		v, err := e.view(ctx, names[i])
		if errors.Is(err, gatewayapi.ErrUnknownSink) {
			continue // deleted meanwhile
		}
		if err != nil {
			return page, err
		}
		page.Sinks = append(page.Sinks, v)
	}
	if page.Sinks == nil {
		page.Sinks = []gatewayapi.SinkView{}
	}
	return page, nil
}

// Statuses is every sink's live state, by name: those running, and the
// API sinks that do not run (in conflict with the file, or failed).
func (e *Endpoints) Statuses(ctx context.Context) []gatewayapi.SinkStatus {
	out := []gatewayapi.SinkStatus{}
	for _, name := range e.names("") {
		if st, ok := e.status(ctx, name); ok {
			out = append(out, st)
			continue
		}
		e.mu.RLock()
		a, isAPI := e.api[name]
		e.mu.RUnlock()
		if isAPI && a.Err != nil {
			if v, err := e.view(ctx, name); err == nil {
				out = append(out, v.SinkStatus)
			}
		}
	}
	return out
}

// names lists, sorted, every sink running or defined through the API,
// of one tenant when tenant is set.
func (e *Endpoints) names(tenant string) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name, t string) {
		if !seen[name] && (tenant == "" || t == tenant) {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, s := range e.host.Sinks() {
		add(s.Name, s.Tenant)
	}
	e.mu.RLock()
	for name, a := range e.api {
		t := a.Config.Tenant
		if a.Err != nil {
			var doc struct {
				Tenant string `json:"tenant"`
			}
			_ = json.Unmarshal(a.Rec.Spec, &doc)
			t = doc.Tenant
		}
		add(name, t)
	}
	e.mu.RUnlock()
	sort.Strings(names)
	return names
}

// status is the running sink's live state, an API sink's source and the
// reason its record gives for disabling it included.
func (e *Endpoints) status(ctx context.Context, name string) (gatewayapi.SinkStatus, bool) {
	e.mu.RLock()
	a, ok := e.api[name]
	api := ok && a.Err == nil
	var disabledBy string
	if api {
		disabledBy = a.Rec.Reason
	}
	e.mu.RUnlock()
	st, running := e.host.Status(ctx, name, disabledBy)
	if running && api {
		st.Source = gatewayapi.SourceAPI
	}
	return st, running
}

// view is the definition (redacted) and live state of one sink.
func (e *Endpoints) view(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	if err := gatewayapi.CheckName(name); err != nil {
		return gatewayapi.SinkView{}, err
	}
	cfg, running := e.host.Sink(name)
	e.mu.RLock()
	a, isAPI := e.api[name]
	var aErr error
	var rec apisinks.Record
	if isAPI {
		aErr, rec = a.Err, a.Rec
	}
	e.mu.RUnlock()
	var v gatewayapi.SinkView
	switch {
	case isAPI && aErr != nil && !(running && errors.Is(aErr, apisinks.ErrNameInFile)):
		// Not running: show what is stored, and why.
		var doc map[string]any
		_ = json.Unmarshal(rec.Spec, &doc)
		v.Definition = e.redacted(doc)
		st := gatewayapi.SinkStatus{Name: name, Source: gatewayapi.SourceAPI, State: "failed", StateReason: aErr.Error()}
		var r *apisinks.Refusal
		if errors.Is(aErr, apisinks.ErrNameInFile) {
			st.State = "conflict"
		} else if errors.As(aErr, &r) {
			st.State = stateRefused
		}
		if d := v.Definition; d != nil {
			st.Tenant, st.Events, st.Kind, st.Delivery = d.Tenant, d.Events, d.Kind(), d.Delivery
		}
		v.SinkStatus = st
	case running:
		st, ok := e.status(ctx, name)
		if !ok {
			return gatewayapi.SinkView{}, gatewayapi.UnknownSink(name) // stopped meanwhile
		}
		d := config.RedactedSink(cfg)
		v.Definition, v.SinkStatus = &d, st
		if isAPI && errors.Is(aErr, apisinks.ErrNameInFile) {
			// The file's sink runs under the name; the API's waits.
			v.Warnings = append(v.Warnings, "an API sink of this name is not started: the config file's sink wins (rename or delete one of them)")
			isAPI = false
		}
	default:
		return gatewayapi.SinkView{}, gatewayapi.UnknownSink(name)
	}
	if isAPI {
		created, updated := rec.CreatedAt, rec.At
		v.CreatedAt, v.UpdatedAt = &created, &updated
	}
	v.Capabilities = append([]string{}, e.kinds.Capabilities(v.Kind)...)
	return v, nil
}
