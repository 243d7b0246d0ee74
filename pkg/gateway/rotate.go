package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// DefaultRotationGrace is how long a rotated-out secret keeps signing.
const DefaultRotationGrace = 24 * time.Hour

// withoutExpiredSecrets drops from a spec the rotated-out secrets whose
// grace is over.
func (g *Gateway) withoutExpiredSecrets(spec json.RawMessage, expiring map[string]time.Time, now time.Time) (json.RawMessage, error) {
	if len(expiring) == 0 {
		return spec, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("stored spec: %w", err)
	}
	if !dropExpiredSecrets(g.kinds.Secrets(doc), expiring, now) {
		return spec, nil
	}
	return json.Marshal(doc)
}

// dropExpiredSecrets removes from a spec's held secrets the rotated-out
// ones whose grace is over; false when its kind holds no secrets (nil).
func dropExpiredSecrets(held *sink.HeldSecrets, expiring map[string]time.Time, now time.Time) bool {
	if held == nil {
		return false
	}
	kept := make([]string, 0, len(held.List))
	for _, s := range held.List {
		if at, ok := expiring[config.Fingerprint(s)]; ok && !at.After(now) {
			continue
		}
		kept = append(kept, s)
	}
	held.Set(kept)
	return true
}

// opExpireSecrets is the revision that removes from the stored record
// the rotated-out secrets whose grace ended: the bucket keeps no secret
// that no longer signs.
const opExpireSecrets = "expire-secrets"

var errNothingExpired = errors.New("no rotated-out secret has expired")

// expireRotations ends the grace of the rotated-out secrets that expired:
// the running sinks stop signing with them at once, then each stored
// record is rewritten without them. Every replica's timer fires; the
// first to write wins, the others find nothing left to drop.
func (g *Gateway) expireRotations() {
	g.reloadMu.Lock()
	if g.runCtx == nil || !g.running.Load() {
		g.reloadMu.Unlock()
		return
	}
	ctx := g.runCtx
	g.mu.RLock()
	file, prev := g.fileCfg, g.api
	g.mu.RUnlock()
	api := g.rebuildAPISinks(file)
	if _, err := g.applyLocked(ctx, g.effective(file, api), false); err != nil {
		g.reloadMu.Unlock()
		g.log.Error("apply expired secrets", "err", err)
		return
	}
	now := time.Now()
	var due []string
	g.mu.Lock()
	g.api = api
	for name := range g.expiryTried {
		if _, ok := api[name]; !ok {
			delete(g.expiryTried, name) // deleted sinks leave nothing behind
		}
	}
	if g.expiryTried == nil {
		g.expiryTried = map[string]uint64{}
	}
	for name, a := range api {
		for _, at := range a.rec.Expiring {
			if !at.After(now) && g.expiryTried[name] != a.rev {
				g.expiryTried[name] = a.rev
				due = append(due, name)
				break
			}
		}
	}
	g.mu.Unlock()
	g.reloadMu.Unlock()
	g.reportRebuilt(prev, api)
	for _, name := range due {
		g.storeExpiredSecrets(ctx, name)
	}
	g.apiChanged()
}

// storeExpiredSecrets rewrites one API sink's record without the
// rotated-out secrets whose grace is over.
func (g *Gateway) storeExpiredSecrets(ctx context.Context, name string) {
	err := g.updateAPISink(ctx, name, opExpireSecrets, "switchyard", "the grace of rotated-out signing secrets ended", func(doc map[string]any, rec *apisinks.Record) error {
		now := time.Now()
		live := map[string]time.Time{}
		for fp, at := range rec.Expiring {
			if at.After(now) {
				live[fp] = at
			}
		}
		if len(live) == len(rec.Expiring) {
			return errNothingExpired
		}
		dropExpiredSecrets(g.kinds.Secrets(doc), rec.Expiring, now)
		rec.Expiring = live
		if len(live) == 0 {
			rec.Expiring = nil
		}
		return nil
	})
	switch {
	case err == nil:
		g.log.Info("rotated-out secrets removed from the stored sink", "sink", name)
	case errors.Is(err, errNothingExpired), errors.Is(err, gatewayapi.ErrUnknownSink):
	case errors.Is(err, gatewayapi.ErrConflict):
		g.log.Info("remove rotated-out secrets: changed meanwhile, left to the next change", "sink", name, "err", err)
	default:
		g.log.Warn("remove rotated-out secrets from the stored sink", "sink", name, "err", err)
	}
}

// RotateSecret gives an API sink whose kind holds secrets a new one. Until the
// grace ends every delivery carries both signatures, the new and the old;
// then only the new one.
func (g *Gateway) RotateSecret(ctx context.Context, name string, grace time.Duration, actor string) (gatewayapi.RotateResult, error) {
	if grace < 0 {
		return gatewayapi.RotateResult{}, config.FieldErrors{{Field: "grace", Message: "must not be negative"}}
	}
	var res gatewayapi.RotateResult
	err := g.updateAPISink(ctx, name, "rotate", actor, "", func(doc map[string]any, rec *apisinks.Record) error {
		held := g.kinds.Secrets(doc)
		if held == nil {
			kind := g.kinds.KindOf(doc)
			return config.FieldErrors{{Field: kind, Message: fmt.Sprintf("%s sinks hold no signing secrets to rotate", kind)}}
		}
		now := time.Now().UTC()
		until := now.Add(grace)
		expiring := map[string]time.Time{}
		fresh := held.Generate()
		kept := []string{fresh}
		for _, s := range held.List {
			fp := config.Fingerprint(s)
			at, had := rec.Expiring[fp]
			if had && !at.After(now) || grace == 0 {
				continue // its grace is over
			}
			if !had || until.Before(at) {
				at = until
			}
			expiring[fp] = at
			kept = append(kept, s)
		}
		held.Set(kept)
		rec.Expiring = expiring
		res = gatewayapi.RotateResult{Secret: fresh, PreviousExpiresAt: until}
		return nil
	})
	return res, err
}
