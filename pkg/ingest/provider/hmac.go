package provider

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"
)

// MAC is HMAC-SHA256 of the parts under key.
func MAC(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Keys are a source's secrets as HMAC keys.
func Keys(s Source) [][]byte {
	keys := make([][]byte, len(s.Secrets))
	for i, sec := range s.Secrets {
		keys[i] = []byte(sec)
	}
	return keys
}

// HeaderHMAC checks HMAC-SHA256(secret, body) carried in one header after
// prefix, encoded as decode reads it: the scheme of GitHub, Shopify and
// many others.
func HeaderHMAC(keys [][]byte, header, prefix string, decode func(string) ([]byte, error)) Verifier {
	return func(h http.Header, body []byte, _ time.Time) *Refusal {
		v := h.Get(header)
		if v == "" {
			return Refuse(ReasonMissing, "no %s header", header)
		}
		enc, ok := strings.CutPrefix(v, prefix)
		if !ok {
			return Refuse(ReasonMismatch, "%s does not start with %q", header, prefix)
		}
		sig, err := decode(enc)
		if err != nil || len(sig) != sha256.Size {
			return Refuse(ReasonMismatch, "%s is not an encoded SHA-256 HMAC", header)
		}
		for _, k := range keys {
			if hmac.Equal(MAC(k, body), sig) {
				return nil
			}
		}
		return Refuse(ReasonMismatch, "%s matches no secret", header)
	}
}
