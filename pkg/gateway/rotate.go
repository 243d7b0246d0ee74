package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// DefaultRotationGrace is how long a rotated-out secret keeps signing.
const DefaultRotationGrace = apisinks.DefaultRotationGrace

// expireRotations ends the grace of the rotated-out secrets that expired:
// the running sinks stop signing with them at once, then each stored
// record is rewritten without them. Every replica's expiry fires; the
// first to write wins, the others find nothing left to drop.
func (g *Gateway) expireRotations(ctx context.Context) {
	g.reloadMu.Lock()
	if g.runCtx == nil || !g.running.Load() {
		g.reloadMu.Unlock()
		return
	}
	g.mu.RLock()
	file, prev := g.fileCfg, g.api
	g.mu.RUnlock()
	api := g.rebuildAPISinks(file)
	if _, err := g.applyLocked(ctx, apisinks.Effective(file, api), false); err != nil {
		g.reloadMu.Unlock()
		g.log.Error("apply expired secrets", "err", err)
		return
	}
	g.mu.Lock()
	g.api = api
	due := g.expiry.Due(apisinks.PendingOf(api))
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
	err := g.updateAPISink(ctx, name, apisinks.OpExpireSecrets, "switchyard", "the grace of rotated-out signing secrets ended", func(doc map[string]any, rec *apisinks.Record) error {
		return apisinks.ExpireSecrets(g.kinds.Secrets(doc), rec, time.Now())
	})
	switch {
	case err == nil:
		g.log.Info("rotated-out secrets removed from the stored sink", "sink", name)
	case errors.Is(err, apisinks.ErrNothingExpired), errors.Is(err, gatewayapi.ErrUnknownSink):
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
	err := g.updateAPISink(ctx, name, apisinks.OpRotate, actor, "", func(doc map[string]any, rec *apisinks.Record) error {
		held := g.kinds.Secrets(doc)
		if held == nil {
			kind := g.kinds.KindOf(doc)
			return config.FieldErrors{{Field: kind, Message: fmt.Sprintf("%s sinks hold no signing secrets to rotate", kind)}}
		}
		res = apisinks.Rotate(held, rec, grace, time.Now())
		return nil
	})
	return res, err
}
