package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

// Tolerance is how far a signed timestamp (Stripe, Standard Webhooks) may
// be from now.
const Tolerance = 5 * time.Minute

// refusal is why a signature was refused: the reason is a metric label,
// the detail goes to the log; neither reaches the response.
type refusal struct {
	reason string
	detail string
}

func (r *refusal) Error() string { return r.reason + ": " + r.detail }

func refuse(reason, format string, args ...any) *refusal {
	return &refusal{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// verifier checks a request's signature against every secret of a source.
type verifier func(h http.Header, body []byte, now time.Time) *refusal

func newVerifier(s config.Source) (verifier, error) {
	keys := make([][]byte, len(s.Secrets))
	for i, sec := range s.Secrets {
		keys[i] = []byte(sec)
	}
	switch s.Verify {
	case config.VerifyStripe:
		return stripeVerifier(keys), nil
	case config.VerifyGitHub:
		return headerVerifier(keys, "X-Hub-Signature-256", "sha256=", hex.DecodeString), nil
	case config.VerifyShopify:
		return headerVerifier(keys, "X-Shopify-Hmac-Sha256", "", base64.StdEncoding.DecodeString), nil
	case config.VerifyHMAC:
		decode := hex.DecodeString
		if s.Encoding == "base64" {
			decode = base64.StdEncoding.DecodeString
		}
		return headerVerifier(keys, s.Header, s.Prefix, decode), nil
	case config.VerifyStandardWebhooks:
		k, err := signing.NewKeys(s.Secrets...)
		if err != nil {
			return nil, fmt.Errorf("ingest: source %s: %w", s.Name, err)
		}
		return func(h http.Header, body []byte, now time.Time) *refusal {
			err := k.Verify(h, body, now, Tolerance)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, signing.ErrMissingHeaders):
				return refuse(ReasonMissing, "%v", err)
			case errors.Is(err, signing.ErrInvalidTimestamp):
				return refuse(ReasonTimestamp, "%v", err)
			}
			return refuse(ReasonMismatch, "%v", err)
		}, nil
	}
	return nil, fmt.Errorf("ingest: source %s: unknown verify %q", s.Name, s.Verify)
}

// mac is HMAC-SHA256 of the parts under key.
func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// headerVerifier checks HMAC-SHA256(secret, body) carried in one header
// (GitHub: "sha256=<hex>", Shopify: base64, generic: configured).
func headerVerifier(keys [][]byte, header, prefix string, decode func(string) ([]byte, error)) verifier {
	return func(h http.Header, body []byte, _ time.Time) *refusal {
		v := h.Get(header)
		if v == "" {
			return refuse(ReasonMissing, "no %s header", header)
		}
		enc, ok := strings.CutPrefix(v, prefix)
		if !ok {
			return refuse(ReasonMismatch, "%s does not start with %q", header, prefix)
		}
		sig, err := decode(enc)
		if err != nil || len(sig) != sha256.Size {
			return refuse(ReasonMismatch, "%s is not an encoded SHA-256 HMAC", header)
		}
		for _, k := range keys {
			if hmac.Equal(mac(k, body), sig) {
				return nil
			}
		}
		return refuse(ReasonMismatch, "%s matches no secret", header)
	}
}

var dot = []byte{'.'}

// stripeVerifier checks Stripe-Signature: t=<unix>,v1=<hex>[,v1=…] over
// "<t>.<body>", the timestamp within Tolerance.
func stripeVerifier(keys [][]byte) verifier {
	return func(h http.Header, body []byte, now time.Time) *refusal {
		v := h.Get("Stripe-Signature")
		if v == "" {
			return refuse(ReasonMissing, "no Stripe-Signature header")
		}
		var ts string
		var sigs [][]byte
		for _, part := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				ts = val
			case "v1":
				if b, err := hex.DecodeString(val); err == nil {
					sigs = append(sigs, b)
				}
			}
		}
		if ts == "" || len(sigs) == 0 {
			return refuse(ReasonMissing, "Stripe-Signature has no t= or no v1= entry")
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return refuse(ReasonTimestamp, "t=%q is not Unix seconds", ts)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
			return refuse(ReasonTimestamp, "timestamp %s away", d.Round(time.Second))
		}
		for _, k := range keys {
			want := mac(k, []byte(ts), dot, body)
			for _, s := range sigs {
				if hmac.Equal(want, s) {
					return nil
				}
			}
		}
		return refuse(ReasonMismatch, "no v1 signature matches a secret")
	}
}
