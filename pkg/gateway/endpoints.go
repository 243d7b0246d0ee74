package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
	"github.com/switchyard-dev/switchyard/pkg/pauses"
)

// The endpoints API: sinks created, changed and deleted at run time. They
// live in the sinks bucket; every replica watches it and applies each
// change through the same build-swap-drain path as a reload, so an API
// sink runs exactly like one from the file.

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{gatewayapi.ErrConflict}, args...)...)
}

func (g *Gateway) inFile(name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, s := range g.fileCfg.Sinks {
		if s.Name == name {
			return true
		}
	}
	return false
}

// decodeObject reads a request body that must be one JSON object,
// through jsonlimit: its depth is checked before it is decoded, so no
// deep document is ever decoded, re-marshalled or stored.
func decodeObject(body []byte, what string) (map[string]any, error) {
	var doc map[string]any
	if err := jsonlimit.Unmarshal(body, &doc); err != nil || doc == nil {
		msg := what + " must be a JSON object"
		switch {
		case errors.Is(err, jsonlimit.ErrTooDeep):
			msg = what + ": " + err.Error()
		case err != nil:
			msg += ": " + err.Error()
		}
		return nil, config.FieldErrors{{Message: msg}}
	}
	return doc, nil
}

// judge validates a spec as the file's sinks are validated, plus the
// limits on what API sinks may use: apisinks.JudgeSpec, which every record read
// back from the bucket passes too.
func (g *Gateway) judge(spec []byte) (config.Sink, error) {
	g.mu.RLock()
	file := g.fileCfg
	g.mu.RUnlock()
	s, _, err := apisinks.JudgeSpec(g.kinds, spec, file)
	return s, err
}

// CreateSink stores a new API sink and starts it. A webhook sink given no
// secret gets one, returned in the view under "secret" this once.
func (g *Gateway) CreateSink(ctx context.Context, body []byte, actor string) (gatewayapi.SinkView, error) {
	doc, err := decodeObject(body, "a sink")
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	if v, ok := doc["name"]; !ok || v == nil || v == "" {
		doc["name"] = apisinks.NewName()
	}
	name, _ := doc["name"].(string)
	var secret string
	if held := g.kinds.Secrets(doc); held != nil && len(held.List) == 0 {
		secret = held.Generate()
		held.Set([]string{secret})
	}
	spec, err := json.Marshal(doc)
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if !g.running.Load() {
		return gatewayapi.SinkView{}, ErrNotRunning
	}
	if name != "" && g.inFile(name) {
		return gatewayapi.SinkView{}, conflict("sink %q is defined in the config file", name)
	}
	g.mu.RLock()
	_, taken := g.api[name]
	g.mu.RUnlock()
	if taken {
		return gatewayapi.SinkView{}, conflict("sink %q exists", name)
	}
	s, err := g.judge(spec)
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	if err := g.checkNameFree(ctx, name); err != nil {
		return gatewayapi.SinkView{}, err
	}
	// Whatever a deleted API sink of this name left behind (a consumer,
	// dead letters, a pause, an ack floor) belongs to another endpoint.
	g.cleanSinkState(ctx, name)
	now := time.Now().UTC()
	rec := apisinks.Record{Spec: spec, Op: apisinks.OpCreate, Actor: actor, At: now, CreatedAt: now, IncarnationID: apisinks.NewIncarnation()}
	s.Incarnation = rec.Incarnation(name)
	rev, err := g.store.Create(ctx, name, rec)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return gatewayapi.SinkView{}, conflict("sink %q exists", name)
	}
	if err != nil {
		return gatewayapi.SinkView{}, fmt.Errorf("store sink %s: %w", name, err)
	}
	if err := g.swapAPISinkLocked(ctx, name, &apiSink{Rec: rec, Rev: rev, Config: s}); err != nil {
		// It could not start: take it back, so the caller can retry.
		_ = g.store.Remove(ctx, name, rev)
		_ = g.swapAPISinkLocked(ctx, name, nil)
		return gatewayapi.SinkView{}, fmt.Errorf("start sink %s: %w", name, err)
	}
	g.log.Info("sink created through the API", "sink", name, "actor", actor)
	v, err := g.sinkView(ctx, name)
	v.Secret = secret
	return v, err
}

// PatchSink applies a JSON merge patch (RFC 7396) to an API sink. A
// fingerprint sent back where a secret was means that secret, unchanged;
// name and tenant cannot change.
func (g *Gateway) PatchSink(ctx context.Context, name string, patch []byte, actor string) (gatewayapi.SinkView, error) {
	p, err := decodeObject(patch, "a merge patch")
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	err = g.updateAPISink(ctx, name, apisinks.OpUpdate, actor, "", func(doc map[string]any, _ *apisinks.Record) error {
		return apisinks.Patch(doc, p, name, g.redactedMap)
	})
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	return g.sinkView(ctx, name)
}

// storedAPISink reads the latest revision of an API sink to change it; a
// sink of the config file is a conflict (inFile says what to do instead).
// reloadMu is held.
func (g *Gateway) storedAPISink(ctx context.Context, name, inFile string) (apisinks.Entry, error) {
	if !g.running.Load() {
		return apisinks.Entry{}, ErrNotRunning
	}
	if err := checkName(name); err != nil {
		return apisinks.Entry{}, err
	}
	if g.inFile(name) {
		return apisinks.Entry{}, conflict("sink %q is defined in the config file: %s", name, inFile)
	}
	e, err := g.store.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, name)
	}
	return e, err
}

// updateAPISink reads an API sink, lets change edit its spec and record,
// judges the result, stores it (only over the revision it read) and
// applies it.
func (g *Gateway) updateAPISink(ctx context.Context, name, op, actor, reason string, change func(doc map[string]any, rec *apisinks.Record) error) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	e, err := g.storedAPISink(ctx, name, "change it there (YAML sinks rotate secrets by listing two)")
	if err != nil {
		return err
	}
	// The gateway's own changes take something away (delivery, a secret):
	// they are stored even when the sink breaks today's rules, and the
	// build below still judges it.
	check := func(spec []byte) error { _, err := g.judge(spec); return err }
	if op == apisinks.OpAutoDisable && reason != "" || op == apisinks.OpExpireSecrets {
		check = nil
	}
	rec, rev, err := g.store.Edit(ctx, e, op, actor, reason, change, check)
	if err != nil {
		return err
	}
	g.mu.RLock()
	file := g.fileCfg
	g.mu.RUnlock()
	if err := g.swapAPISinkLocked(ctx, name, g.buildAPISink(name, rec, rev, file)); err != nil {
		return err
	}
	g.log.Info("API sink changed", "sink", name, "op", op, "actor", actor)
	return nil
}

// redactedSpec is a stored spec as reads show it: parsed with defaults,
// secrets as fingerprints.
func (g *Gateway) redactedSpec(doc map[string]any) *config.Sink {
	spec, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	g.mu.RLock()
	file := g.fileCfg
	g.mu.RUnlock()
	s, err := g.loader().ParseSink(spec, withoutSink(file, ""))
	if err != nil {
		return nil // nothing to match fingerprints against
	}
	r := config.RedactedSink(s)
	return &r
}

// redactedMap is redactedSpec as plain values, empty when the spec does
// not parse.
func (g *Gateway) redactedMap(doc map[string]any) (map[string]any, error) {
	if s := g.redactedSpec(doc); s != nil {
		return s.Map(), nil
	}
	return map[string]any{}, nil
}

func withoutSink(c *config.Config, name string) *config.Config {
	out := *c
	out.Sinks = nil
	for _, s := range c.Sinks {
		if s.Name != name {
			out.Sinks = append(out.Sinks, s)
		}
	}
	return &out
}

// DeleteSink stops an API sink and removes it with everything it left:
// its consumers, its dead letters, its pause and ack floor. The
// tombstone is written first, so no replica brings it back.
func (g *Gateway) DeleteSink(ctx context.Context, name, actor string) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	e, err := g.storedAPISink(ctx, name, "remove it there")
	if err != nil {
		return err
	}
	// The last revision says who deleted it; the delete marker after it
	// is the tombstone every replica's watch and recovery respect.
	if err := g.store.Delete(ctx, e, actor); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return conflict("sink %q changed meanwhile: retry", name)
		}
		return fmt.Errorf("delete sink %s: %w", name, err)
	}
	if err := g.swapAPISinkLocked(ctx, name, nil); err != nil {
		return err
	}
	g.cleanSinkState(ctx, name)
	g.log.Info("sink deleted through the API", "sink", name, "actor", actor)
	return nil
}

// cleanSinkState removes what a sink of this name leaves in JetStream, so
// a later sink of the same name starts clean and can never redrive or
// resume another endpoint's events.
func (g *Gateway) cleanSinkState(ctx context.Context, name string) {
	g.deleteConsumers(ctx, name)
	if err := g.dlq.PurgeSink(ctx, name); err != nil {
		g.log.Warn("delete sink: dead letters", "sink", name, "err", err)
	}
	for _, k := range []string{pauses.Key(name), ackfloor.Key(name)} {
		if err := g.state.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			g.log.Warn("delete sink: state", "key", k, "err", err)
		}
	}
}

// SinkHistory is an API sink's audit trail, oldest first.
func (g *Gateway) SinkHistory(ctx context.Context, name string) ([]gatewayapi.SinkRevision, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	out, err := g.store.History(ctx, name, g.redactedSpec)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if g.inFile(name) {
			return nil, conflict("sink %q is defined in the config file, which has no history here", name)
		}
		return nil, fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, name)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetSink is one sink, from the file or the API, with its live state.
func (g *Gateway) GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	return g.sinkView(ctx, name)
}

// ListSinks is a page of sinks by name, from the file and the API.
func (g *Gateway) ListSinks(ctx context.Context, q gatewayapi.SinkQuery) (gatewayapi.SinkPage, error) {
	names := g.sinkNames(q.Tenant)
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
		v, err := g.sinkView(ctx, names[i])
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

// sinkNames lists, sorted, every sink running or defined through the API,
// of one tenant when tenant is set.
func (g *Gateway) sinkNames(tenant string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	seen := map[string]bool{}
	var names []string
	add := func(name, t string) {
		if !seen[name] && (tenant == "" || t == tenant) {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, rs := range g.sinks {
		add(rs.cfg.Name, rs.cfg.Tenant)
	}
	for name, a := range g.api {
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
	sort.Strings(names)
	return names
}

// sinkView is the definition (redacted) and live state of one sink.
func (g *Gateway) sinkView(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	if err := checkName(name); err != nil {
		return gatewayapi.SinkView{}, err
	}
	g.mu.RLock()
	rs := g.byName[name]
	a, isAPI := g.api[name]
	g.mu.RUnlock()
	var v gatewayapi.SinkView
	switch {
	case isAPI && a.Err != nil && !(rs != nil && errors.Is(a.Err, apisinks.ErrNameInFile)):
		// Not running: show what is stored, and why.
		var doc map[string]any
		_ = json.Unmarshal(a.Rec.Spec, &doc)
		v.Definition = g.redactedSpec(doc)
		st := gatewayapi.SinkStatus{Name: name, Source: gatewayapi.SourceAPI, State: "failed", StateReason: a.Err.Error()}
		var r *apisinks.Refusal
		if errors.Is(a.Err, apisinks.ErrNameInFile) {
			st.State = "conflict"
		} else if errors.As(a.Err, &r) {
			st.State = stateRefused
		}
		if d := v.Definition; d != nil {
			st.Tenant, st.Events, st.Kind = d.Tenant, d.Events, d.Kind()
		}
		v.SinkStatus = st
	case rs != nil:
		d := config.RedactedSink(rs.cfg)
		v.Definition = &d
		v.SinkStatus = g.sinkStatus(ctx, rs)
		if isAPI && errors.Is(a.Err, apisinks.ErrNameInFile) {
			// The file's sink runs under the name; the API's waits.
			v.Warnings = append(v.Warnings, "an API sink of this name is not started: the config file's sink wins (rename or delete one of them)")
			isAPI = false
		}
	default:
		return gatewayapi.SinkView{}, fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, name)
	}
	if isAPI {
		created, updated := a.Rec.CreatedAt, a.Rec.At
		v.CreatedAt, v.UpdatedAt = &created, &updated
	}
	v.Capabilities = append([]string{}, g.kinds.Capabilities(v.Kind)...)
	return v, nil
}
