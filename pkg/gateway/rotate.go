package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// DefaultRotationGrace is how long a rotated-out secret keeps signing.
const DefaultRotationGrace = 24 * time.Hour

// newWebhookSecret is a Standard Webhooks v1 secret: whsec_ and 24
// random bytes in base64 (192 bits, as Svix issues them).
func newWebhookSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// webhookSecrets is the webhook block of a spec and its secrets, or nil
// when the spec has no webhook block.
func webhookSecrets(doc map[string]any) (map[string]any, []string) {
	wh, ok := doc["webhook"].(map[string]any)
	if !ok {
		return nil, nil
	}
	list, _ := wh["secrets"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return wh, out
}

// withoutExpiredSecrets drops from a spec the rotated-out secrets whose
// grace is over.
func withoutExpiredSecrets(spec json.RawMessage, expiring map[string]time.Time, now time.Time) (json.RawMessage, error) {
	if len(expiring) == 0 {
		return spec, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, fmt.Errorf("stored spec: %w", err)
	}
	wh, secrets := webhookSecrets(doc)
	if wh == nil {
		return spec, nil
	}
	kept := make([]any, 0, len(secrets))
	for _, s := range secrets {
		if at, ok := expiring[config.Fingerprint(s)]; ok && !at.After(now) {
			continue
		}
		kept = append(kept, s)
	}
	wh["secrets"] = kept
	return json.Marshal(doc)
}

// RotateSecret gives an API webhook sink a new signing secret. Until the
// grace ends every delivery carries both signatures, the new and the old;
// then only the new one.
func (g *Gateway) RotateSecret(ctx context.Context, name string, grace time.Duration, actor string) (gatewayapi.RotateResult, error) {
	if grace < 0 {
		return gatewayapi.RotateResult{}, config.FieldErrors{{Field: "grace", Message: "must not be negative"}}
	}
	var res gatewayapi.RotateResult
	err := g.updateAPISink(ctx, name, "rotate", actor, "", func(doc map[string]any, rec *sinkRecord) error {
		wh, secrets := webhookSecrets(doc)
		if wh == nil {
			return config.FieldErrors{{Field: "webhook", Message: "only webhook sinks have signing secrets to rotate"}}
		}
		now := time.Now().UTC()
		until := now.Add(grace)
		expiring := map[string]time.Time{}
		fresh := newWebhookSecret()
		kept := []any{fresh}
		for _, s := range secrets {
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
		wh["secrets"] = kept
		rec.Expiring = expiring
		res = gatewayapi.RotateResult{Secret: fresh, PreviousExpiresAt: until}
		return nil
	})
	return res, err
}
