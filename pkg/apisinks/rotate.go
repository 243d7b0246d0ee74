package apisinks

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// DefaultRotationGrace is how long a rotated-out secret keeps signing.
const DefaultRotationGrace = 24 * time.Hour

// SecretsOf finds the signing secrets a spec decoded from JSON holds: nil
// when its kind holds none. *sink.Registry is one.
type SecretsOf interface {
	Secrets(doc map[string]any) *sink.HeldSecrets
}

// WithoutExpiredSecrets drops from a spec the rotated-out secrets whose
// grace is over.
func WithoutExpiredSecrets(kinds SecretsOf, spec json.RawMessage, expiring map[string]time.Time, now time.Time) (json.RawMessage, error) {
	if len(expiring) == 0 {
		return spec, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("stored spec: %w", err)
	}
	if !dropExpiredSecrets(kinds.Secrets(doc), expiring, now) {
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

// ErrNothingExpired: ExpireSecrets found no rotated-out secret to drop.
var ErrNothingExpired = errors.New("no rotated-out secret has expired")

// ExpireSecrets removes from a record and its spec's held secrets (held
// may be nil) the rotated-out secrets whose grace is over.
func ExpireSecrets(held *sink.HeldSecrets, rec *Record, now time.Time) error {
	live := map[string]time.Time{}
	for fp, at := range rec.Expiring {
		if at.After(now) {
			live[fp] = at
		}
	}
	if len(live) == len(rec.Expiring) {
		return ErrNothingExpired
	}
	dropExpiredSecrets(held, rec.Expiring, now)
	rec.Expiring = live
	if len(live) == 0 {
		rec.Expiring = nil
	}
	return nil
}

// Rotate puts a new secret first in held and keeps the others signing
// until the grace ends (or the earlier end a previous rotation gave
// them); those whose grace is over, or all with a grace of 0, go.
func Rotate(held *sink.HeldSecrets, rec *Record, grace time.Duration, now time.Time) gatewayapi.RotateResult {
	now = now.UTC()
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
	return gatewayapi.RotateResult{Secret: fresh, PreviousExpiresAt: until}
}
