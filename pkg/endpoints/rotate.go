package endpoints

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// RotateSecret gives an API sink whose kind holds secrets a new one.
// Until the grace ends every delivery carries both signatures, the new
// and the old; then only the new one.
func (e *Endpoints) RotateSecret(ctx context.Context, name string, grace time.Duration, actor string) (gatewayapi.RotateResult, error) {
	if grace < 0 {
		return gatewayapi.RotateResult{}, config.FieldErrors{{Field: "grace", Message: "must not be negative"}}
	}
	var res gatewayapi.RotateResult
	err := e.update(ctx, name, apisinks.OpRotate, actor, "", func(doc map[string]any, rec *apisinks.Record) error {
		held := e.kinds.Secrets(doc)
		if held == nil {
			kind := e.kinds.KindOf(doc)
			return config.FieldErrors{{Field: kind, Message: fmt.Sprintf("%s sinks hold no signing secrets to rotate", kind)}}
		}
		res = apisinks.Rotate(held, rec, grace, time.Now())
		return nil
	})
	return res, err
}

// expire ends the grace of the rotated-out secrets that expired: the
// running sinks stop signing with them at once, then each stored record
// is rewritten without them. Every replica's expiry fires; the first to
// write wins, the others find nothing left to drop.
func (e *Endpoints) expire(ctx context.Context) {
	e.change.Lock()
	if !e.host.Running() {
		e.change.Unlock()
		return
	}
	e.mu.RLock()
	file, prev := e.file, e.api
	api := apisinks.Rebuild(e.kinds, e.keyed(), prev, file)
	e.mu.RUnlock()
	if _, err := e.host.Apply(ctx, apisinks.Effective(file, api), false); err != nil {
		e.change.Unlock()
		e.log.Error("apply expired secrets", "err", err)
		return
	}
	e.mu.Lock()
	e.api = api
	e.recountLocked()
	due := e.expiry.Due(apisinks.PendingOf(api))
	e.mu.Unlock()
	e.change.Unlock()
	e.reportRebuilt(prev, api)
	for _, name := range due {
		e.storeExpiredSecrets(ctx, name)
	}
	e.changed()
}

// storeExpiredSecrets rewrites one API sink's record without the
// rotated-out secrets whose grace is over.
func (e *Endpoints) storeExpiredSecrets(ctx context.Context, name string) {
	err := e.update(ctx, name, apisinks.OpExpireSecrets, "switchyard", "the grace of rotated-out signing secrets ended", func(doc map[string]any, rec *apisinks.Record) error {
		return apisinks.ExpireSecrets(e.kinds.Secrets(doc), rec, time.Now())
	})
	switch {
	case err == nil:
		e.log.Info("rotated-out secrets removed from the stored sink", "sink", name)
	case errors.Is(err, apisinks.ErrNothingExpired), errors.Is(err, gatewayapi.ErrUnknownSink):
	case errors.Is(err, gatewayapi.ErrConflict):
		e.log.Info("remove rotated-out secrets: changed meanwhile, left to the next change", "sink", name, "err", err)
	default:
		e.log.Warn("remove rotated-out secrets from the stored sink", "sink", name, "err", err)
	}
}
