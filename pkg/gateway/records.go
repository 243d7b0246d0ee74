package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A record read back from the sinks bucket is trusted no more than a
// request: whoever can publish to the bucket's subjects can write one, so
// each is judged by the rules a create passes, against the config in
// force, before it may run.

// Why a record is refused: the reason label of
// switchyard_sink_records_refused_total.
const (
	refusedInvalid    = "invalid"     // the spec is not a valid sink
	refusedNotAllowed = "not_allowed" // api.allow does not allow what it uses
	refusedUnsealed   = "unsealed"    // stored in plain text though a secrets key is set
)

// stateRefused is the state of an API sink whose record is refused.
const stateRefused = "refused"

// refusal is why a stored record does not run: it breaks a rule a create
// must pass.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return "refused: " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// errPlainRecord: with a key, only the first start seals plain records.
var errPlainRecord = errors.New("stored in plain text although admin.secrets_key_file is set, so not written by this gateway (plain records are sealed only on the first start with the key): delete the sink and create it again")

// judgeSpec is the one judgement of an API sink's spec, for a create, a
// change and every record read back: valid as the file's sinks are, and
// within api.allow of file. reason says which rule it broke.
func (g *Gateway) judgeSpec(spec []byte, file *config.Config) (config.Sink, string, error) {
	s, err := g.loader().ParseSink(spec, file)
	if err != nil {
		return s, refusedInvalid, err
	}
	if fe := file.API.APIRestrictions(s); len(fe) > 0 {
		return s, refusedNotAllowed, fe
	}
	return s, "", nil
}

// judgeRecord judges a stored record; a refusal says why it may not run.
func (g *Gateway) judgeRecord(rec apisinks.Record, file *config.Config) (config.Sink, error) {
	if rec.Plain() && g.sealer != nil {
		return config.Sink{}, &refusal{reason: refusedUnsealed, err: errPlainRecord}
	}
	spec, err := g.withoutExpiredSecrets(rec.Spec, rec.Expiring, time.Now())
	if err != nil {
		return config.Sink{}, &refusal{reason: refusedInvalid, err: err}
	}
	s, reason, err := g.judgeSpec(spec, file)
	if reason == refusedInvalid {
		err = fmt.Errorf("invalid against the running config: %w", err)
	}
	if err != nil {
		return s, &refusal{reason: reason, err: err}
	}
	return s, nil
}

// reportRefused says, once per refusal, that a record does not run and
// why, and counts it.
func (g *Gateway) reportRefused(name string, r *refusal) {
	g.metrics.SinkRecordsRefused.WithLabelValues(r.reason).Inc()
	g.log.Warn("API sink record refused: not started", "sink", name, "reason", r.reason, "err", r.err)
}

// reportRebuilt reports the API sinks a new config judges otherwise than
// the old one did: newly refused (a narrower api.allow), or running again.
func (g *Gateway) reportRebuilt(prev, next map[string]*apiSink) {
	for name, a := range next {
		p := prev[name]
		var r *refusal
		switch {
		case errors.As(a.err, &r):
			if p == nil || p.err == nil || p.err.Error() != a.err.Error() {
				g.reportRefused(name, r)
			}
		case a.err == nil && p != nil && errors.As(p.err, &r):
			g.log.Info("API sink passes the rules again: started", "sink", name)
		}
	}
}

// sealedMarkerKey, in the state bucket, says that plain records have been
// sealed once: from then on a plain record is not this gateway's.
const sealedMarkerKey = "apisinks.sealed"

// sealPlainRecords seals, on the first start with a secrets key, the
// records stored in plain text before the key was set, and leaves a
// marker so that no later start seals a plain record again (it would
// launder one written by anyone who can publish to the bucket).
func (g *Gateway) sealPlainRecords(ctx context.Context) error {
	if _, err := g.state.Get(ctx, sealedMarkerKey); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("state %s: %w", sealedMarkerKey, err)
	}
	keys, err := g.sinksKV.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("api sinks: %w", err)
	}
	var names []string
	for name := range keys.Keys() {
		names = append(names, name)
	}
	_ = keys.Stop()
	sealed := 0
	for _, name := range names {
		ok, err := g.sealRecord(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			sealed++
		}
	}
	marker, _ := json.Marshal(map[string]any{"at": time.Now().UTC(), "sealed": sealed})
	if _, err := g.state.Put(ctx, sealedMarkerKey, marker); err != nil {
		return fmt.Errorf("state %s: %w", sealedMarkerKey, err)
	}
	g.log.Info("first start with admin.secrets_key_file: sealed the API sinks stored in plain text; a plain record written from now on is refused", "sealed", sealed, "bucket", bus.SinksBucket)
	return nil
}

// sealRecord rewrites one plain record sealed, over the revision it read.
func (g *Gateway) sealRecord(ctx context.Context, name string) (bool, error) {
	for try := 0; try < 3; try++ {
		e, err := g.sinksKV.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("api sink %s: %w", name, err)
		}
		rec, err := g.sealer.Decode(name, e.Value())
		if err != nil || !rec.Plain() {
			return false, nil // sealed already, or unreadable: reported when loaded
		}
		rec.Op, rec.Actor, rec.Reason, rec.At = "seal", "switchyard", "sealed on the first start with admin.secrets_key_file", time.Now().UTC()
		data, err := g.sealer.Encode(name, rec)
		if err != nil {
			return false, err
		}
		_, err = g.sinksKV.Update(ctx, name, data, e.Revision())
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, fmt.Errorf("seal api sink %s: %w", name, err)
		}
		// Another replica changed it meanwhile: read it again.
	}
	return false, fmt.Errorf("seal api sink %s: it keeps changing", name)
}

// withoutAPISinks drops from names the API sinks still stored: one that a
// reload refuses (a narrower api.allow) keeps its backlog until it
// complies again; only its delete removes it.
func (g *Gateway) withoutAPISinks(names []string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(names))
	for _, n := range names {
		if _, ok := g.api[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}
