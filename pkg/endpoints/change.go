package endpoints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
)

// The sinks created, changed and deleted through the API live in the
// sinks bucket; every replica watches it and applies each change through
// the host's build-swap-drain path, so an API sink runs exactly like one
// from the file.

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

// A stored spec that names no delivery was written before delivery
// existed and reads back as dedicated (it has consumers and a backlog),
// so every spec the API writes from now on names its delivery.

// namesDeliveryOf says whether a spec names its delivery.
func namesDeliveryOf(doc map[string]any) bool {
	v, ok := doc["delivery"]
	return ok && v != nil && v != ""
}

// namesDelivery writes def as the spec's delivery when it names none.
func namesDelivery(doc map[string]any, def string) {
	if !namesDeliveryOf(doc) {
		doc["delivery"] = def
	}
}

// defaultDelivery gives a created spec that names no delivery the API's
// default: shared, or dedicated when its destination keeps events of a
// key in order (s, judged without a delivery, says), which shared
// delivery does not. It returns the spec as stored, judged again.
func (e *Endpoints) defaultDelivery(doc map[string]any, s config.Sink) ([]byte, config.Sink, error) {
	doc["delivery"] = config.DeliveryShared
	if s.OrderedBy() != "" {
		doc["delivery"] = config.DeliveryDedicated
	}
	spec, err := json.Marshal(doc)
	if err != nil {
		return nil, s, err
	}
	s, err = e.judge(spec)
	return spec, s, err
}

// judge validates a spec as the file's sinks are validated, plus the
// limits on what API sinks may use: apisinks.JudgeSpec, which every
// record read back from the bucket passes too.
func (e *Endpoints) judge(spec []byte) (config.Sink, error) {
	s, _, err := apisinks.JudgeSpec(e.kinds, spec, e.fileConfig())
	return s, err
}

// CreateSink stores a new API sink and starts it. A sink whose kind holds
// secrets, given none, gets one, returned in the view this once.
func (e *Endpoints) CreateSink(ctx context.Context, body []byte, actor string) (gatewayapi.SinkView, error) {
	doc, err := decodeObject(body, "a sink")
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	if v, ok := doc["name"]; !ok || v == nil || v == "" {
		doc["name"] = apisinks.NewName()
	}
	name, _ := doc["name"].(string)
	implicit := !namesDeliveryOf(doc)
	var secret string
	if held := e.kinds.Secrets(doc); held != nil && len(held.List) == 0 {
		secret = held.Generate()
		held.Set([]string{secret})
	}
	spec, err := json.Marshal(doc)
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	defer e.changeOne(name)()
	if !e.host.Running() {
		return gatewayapi.SinkView{}, gatewayapi.ErrNotRunning
	}
	if name != "" && e.inFile(name) {
		return gatewayapi.SinkView{}, gatewayapi.Conflictf("sink %q is defined in the config file", name)
	}
	if e.Has(name) {
		return gatewayapi.SinkView{}, gatewayapi.Conflictf("sink %q exists", name)
	}
	s, err := e.judge(spec)
	if err == nil && implicit {
		spec, s, err = e.defaultDelivery(doc, s)
	}
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	if err := e.checkNameFree(ctx, name); err != nil {
		return gatewayapi.SinkView{}, err
	}
	// Whatever a deleted API sink of this name left behind (a consumer,
	// dead letters, a pause, an ack floor) belongs to another endpoint.
	e.host.Forget(ctx, name)
	now := time.Now().UTC()
	rec := apisinks.Record{Spec: spec, Op: apisinks.OpCreate, Actor: actor, At: now, CreatedAt: now, IncarnationID: apisinks.NewIncarnation()}
	s.Incarnation = rec.Incarnation(name)
	rev, err := e.store.Create(ctx, name, rec)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return gatewayapi.SinkView{}, gatewayapi.Conflictf("sink %q exists", name)
	}
	if err != nil {
		return gatewayapi.SinkView{}, fmt.Errorf("store sink %s: %w", name, err)
	}
	if err := e.swap(ctx, name, &apisinks.Sink{Rec: rec, Rev: rev, Config: s}); err != nil {
		// It could not start: take it back, so the caller can retry.
		_ = e.store.Remove(ctx, name, rev)
		_ = e.swap(ctx, name, nil)
		return gatewayapi.SinkView{}, fmt.Errorf("start sink %s: %w", name, err)
	}
	e.log.Info("sink created through the API", "sink", name, "actor", actor)
	v, err := e.view(ctx, name)
	v.Secret = secret
	return v, err
}

// PatchSink applies a JSON merge patch (RFC 7396) to an API sink. A
// fingerprint sent back where a secret was means that secret, unchanged;
// name and tenant cannot change.
func (e *Endpoints) PatchSink(ctx context.Context, name string, patch []byte, actor string) (gatewayapi.SinkView, error) {
	p, err := decodeObject(patch, "a merge patch")
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	err = e.update(ctx, name, apisinks.OpUpdate, actor, "", func(doc map[string]any, _ *apisinks.Record) error {
		// A record stored before delivery existed is dedicated; this
		// revision says so. delivery: null asks for the API's default.
		before := config.DeliveryDedicated
		if v, ok := p["delivery"]; ok && v == nil {
			before = config.DeliveryShared
		}
		if err := apisinks.Patch(doc, p, name, e.redactedMap); err != nil {
			return err
		}
		namesDelivery(doc, before)
		return nil
	})
	if err != nil {
		return gatewayapi.SinkView{}, err
	}
	return e.view(ctx, name)
}

// stored reads the latest revision of an API sink to change it; a sink
// of the config file is a conflict (inFile says what to do instead).
// change is held.
func (e *Endpoints) stored(ctx context.Context, name, inFile string) (apisinks.Entry, error) {
	if !e.host.Running() {
		return apisinks.Entry{}, gatewayapi.ErrNotRunning
	}
	if err := gatewayapi.CheckName(name); err != nil {
		return apisinks.Entry{}, err
	}
	if e.inFile(name) {
		return apisinks.Entry{}, gatewayapi.Conflictf("sink %q is defined in the config file: %s", name, inFile)
	}
	en, err := e.store.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return en, gatewayapi.UnknownSink(name)
	}
	return en, err
}

// update reads an API sink, lets change edit its spec and record, judges
// the result, stores it (only over the revision it read) and applies it.
func (e *Endpoints) update(ctx context.Context, name, op, actor, reason string, change func(doc map[string]any, rec *apisinks.Record) error) error {
	defer e.changeOne(name)()
	en, err := e.stored(ctx, name, "change it there (YAML sinks rotate secrets by listing two)")
	if err != nil {
		return err
	}
	// The gateway's own changes take something away (delivery, a secret):
	// they are stored even when the sink breaks today's rules, and the
	// build below still judges it.
	check := func(spec []byte) error { _, err := e.judge(spec); return err }
	if op == apisinks.OpAutoDisable && reason != "" || op == apisinks.OpExpireSecrets {
		check = nil
	}
	rec, rev, err := e.store.Edit(ctx, en, op, actor, reason, change, check)
	if err != nil {
		return err
	}
	if err := e.swap(ctx, name, apisinks.Build(e.kinds, e.keyed(), name, rec, rev, e.fileConfig())); err != nil {
		return err
	}
	e.log.Info("API sink changed", "sink", name, "op", op, "actor", actor)
	return nil
}

// Disable disables the API sink called name in its definition
// (disabled: true), reason in its record, as a sink failing for its
// disable_after is; false when no API sink has the name (the host pauses
// a file sink instead).
func (e *Endpoints) Disable(ctx context.Context, name, reason string) (bool, error) {
	if !e.Has(name) {
		return false, nil
	}
	return true, e.update(ctx, name, apisinks.OpAutoDisable, "switchyard", reason, func(doc map[string]any, _ *apisinks.Record) error {
		doc["disabled"] = true
		return nil
	})
}

// DeleteSink stops an API sink and removes it with everything it left:
// its consumers, its dead letters, its pause and ack floor. The
// tombstone is written first, so no replica brings it back.
func (e *Endpoints) DeleteSink(ctx context.Context, name, actor string) error {
	defer e.changeOne(name)()
	en, err := e.stored(ctx, name, "remove it there")
	if err != nil {
		return err
	}
	// The last revision says who deleted it; the delete marker after it
	// is the tombstone every replica's watch and recovery respect.
	if err := e.store.Delete(ctx, en, actor); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return gatewayapi.Conflictf("sink %q changed meanwhile: retry", name)
		}
		return fmt.Errorf("delete sink %s: %w", name, err)
	}
	if err := e.swap(ctx, name, nil); err != nil {
		return err
	}
	e.host.Forget(ctx, name)
	e.log.Info("sink deleted through the API", "sink", name, "actor", actor)
	return nil
}

// SinkHistory is an API sink's audit trail, oldest first.
func (e *Endpoints) SinkHistory(ctx context.Context, name string) ([]gatewayapi.SinkRevision, error) {
	if err := gatewayapi.CheckName(name); err != nil {
		return nil, err
	}
	out, err := e.store.History(ctx, name, e.redacted)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if e.inFile(name) {
			return nil, gatewayapi.Conflictf("sink %q is defined in the config file, which has no history here", name)
		}
		return nil, gatewayapi.UnknownSink(name)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// redacted is a stored spec as reads show it: parsed with defaults,
// secrets as fingerprints; nil when it does not parse.
func (e *Endpoints) redacted(doc map[string]any) *config.Sink {
	spec, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	s, err := config.Loader{Kinds: e.kinds}.ParseSink(spec, detached(e.fileConfig()))
	if err != nil {
		return nil // nothing to match fingerprints against
	}
	r := config.RedactedSink(s)
	return &r
}

// redactedMap is redacted as plain values, empty when the spec does not
// parse.
func (e *Endpoints) redactedMap(doc map[string]any) (map[string]any, error) {
	if s := e.redacted(doc); s != nil {
		return s.Map(), nil
	}
	return map[string]any{}, nil
}

// detached is c with its own copy of the sinks, so that parsing a sink
// against it shares no slice with the config in force.
func detached(c *config.Config) *config.Config {
	out := *c
	out.Sinks = append([]config.Sink(nil), c.Sinks...)
	return &out
}
