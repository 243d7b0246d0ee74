package ingest

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	_ "github.com/switchyard-dev/switchyard/pkg/ingest/providers" // the built-in providers
)

// Tolerance is how far a signed timestamp (Stripe, Standard Webhooks) may
// be from now.
const Tolerance = provider.Tolerance

// refusal is why a signature was refused: the reason is a metric label,
// the detail goes to the log; neither reaches the response.
type refusal struct {
	reason string
	detail string
}

func (r *refusal) Error() string { return r.reason + ": " + r.detail }

// verifier checks a request's signature against every secret of a source.
type verifier func(h http.Header, body []byte, now time.Time) *refusal

// newVerifier builds the signature check of the source's provider.
func newVerifier(s config.Source) (verifier, error) {
	p := provider.Default.Get(s.Verify)
	if p == nil {
		return nil, fmt.Errorf("ingest: source %s: unknown verify %q", s.Name, s.Verify)
	}
	v, err := p.Verifier(s.Provider())
	if err != nil {
		return nil, err
	}
	return func(h http.Header, body []byte, now time.Time) *refusal {
		r := v(h, body, now)
		switch {
		case r == nil:
			return nil
		case !slices.Contains(reasons, r.Reason):
			// The reason is a metric label: a provider's stray one is
			// counted as a mismatch rather than growing the label set.
			return &refusal{reason: ReasonMismatch, detail: r.Reason + ": " + r.Detail}
		}
		return &refusal{reason: r.Reason, detail: r.Detail}
	}, nil
}
