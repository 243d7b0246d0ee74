package providers

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

func init() {
	kept := []string{"webhook-id", "webhook-timestamp"}
	provider.Register(provider.Spec{
		Name:  "standard-webhooks",
		Order: 40,
		Doc: provider.Doc{
			Signature: "`webhook-id`/`-timestamp`/`-signature`, `v1` (`whsec_`) and `v1a` (`whpk_` public key)",
			Type:      "body `type`",
			ID:        "`webhook-id`",
			Kept:      "`webhook-id`, `webhook-timestamp`",
		},
		Validate: func(s provider.Source, at func(field, format string, args ...any)) {
			for j, sec := range s.Secrets {
				if err := signing.ParseKey(sec); err != nil && sec != "" {
					at(fmt.Sprintf("secrets[%d]", j), "%v (whpk_ for a v1a public key)", err)
				}
			}
		},
		Verifier: standardVerifier,
		Identify: func(_ provider.Source, h http.Header, body []byte) (string, string) {
			return h.Get("webhook-id"), gjson.GetBytes(body, "type").String()
		},
		Keep: func(provider.Source) []string { return kept },
	})
}

// standardVerifier checks v1 (HMAC) and v1a (Ed25519) signatures with the
// signing package, the one that signs Switchyard's own deliveries.
func standardVerifier(s provider.Source) (provider.Verifier, error) {
	k, err := signing.NewKeys(s.Secrets...)
	if err != nil {
		return nil, fmt.Errorf("ingest: source %s: %w", s.Name, err)
	}
	return func(h http.Header, body []byte, now time.Time) *provider.Refusal {
		err := k.Verify(h, body, now, provider.Tolerance)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, signing.ErrMissingHeaders):
			return provider.Refuse(provider.ReasonMissing, "%v", err)
		case errors.Is(err, signing.ErrInvalidTimestamp):
			return provider.Refuse(provider.ReasonTimestamp, "%v", err)
		}
		return provider.Refuse(provider.ReasonMismatch, "%v", err)
	}, nil
}
