// Package signing implements Standard Webhooks signatures: v1 (HMAC-SHA256,
// secrets "whsec_…") and v1a (ed25519, secrets "whsk_…", public keys
// "whpk_…"). Several keys may be active at once so secrets can rotate
// without receiver downtime. Standard library only, so receivers can use it.
package signing

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names defined by the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a timestamp may be from now before Verify
// rejects it, as the specification recommends.
const DefaultTolerance = 5 * time.Minute

const (
	prefixSymmetric = "whsec_"
	prefixSecretKey = "whsk_"
	prefixPublicKey = "whpk_"
)

// Errors returned by Verify, for errors.Is.
var (
	ErrMissingHeaders   = errors.New("signing: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp = errors.New("signing: timestamp outside the tolerance")
	ErrNoMatch          = errors.New("signing: no signature matches")
)

type key struct {
	hmac    []byte             // v1
	hashers *sync.Pool         // of *hasher keyed with hmac
	priv    ed25519.PrivateKey // v1a, signing
	pub     ed25519.PublicKey  // v1a, verifying
}

// hasher is a keyed HMAC-SHA256 kept between signatures: Reset restores
// the keyed state, where hmac.New would allocate two hashes and rehash
// the key for every delivery. prefix holds "id.timestamp." so that the
// signed content goes in with one Write besides the body's.
type hasher struct {
	mac    hash.Hash
	prefix []byte
}

func newHMACKey(secret []byte) key {
	return key{hmac: secret, hashers: &sync.Pool{New: func() any {
		return &hasher{mac: hmac.New(sha256.New, secret), prefix: make([]byte, 0, 64)}
	}}}
}

// Keys is an ordered set of signing or verifying keys.
type Keys struct{ keys []key }

// ParseKey checks one secret without keeping it; config validation uses it.
// Errors never quote the secret, since they end up in logs and terminals.
func ParseKey(s string) error {
	_, err := parseKey(s)
	return err
}

func parseKey(s string) (key, error) {
	switch {
	case strings.HasPrefix(s, prefixSymmetric):
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, prefixSymmetric))
		if err != nil || len(b) == 0 {
			return key{}, fmt.Errorf("secret: after %q it must be base64", prefixSymmetric)
		}
		return newHMACKey(b), nil
	case strings.HasPrefix(s, prefixSecretKey):
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, prefixSecretKey))
		if err != nil || len(b) != ed25519.PrivateKeySize {
			return key{}, fmt.Errorf("secret: after %q it must be base64 of a %d-byte ed25519 seed and public key", prefixSecretKey, ed25519.PrivateKeySize)
		}
		priv := ed25519.PrivateKey(b)
		return key{priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
	case strings.HasPrefix(s, prefixPublicKey):
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, prefixPublicKey))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return key{}, fmt.Errorf("public key: after %q it must be base64 of a %d-byte ed25519 key", prefixPublicKey, ed25519.PublicKeySize)
		}
		return key{pub: ed25519.PublicKey(b)}, nil
	}
	return key{}, fmt.Errorf("secret must start with %q (HMAC-SHA256) or %q (ed25519)", prefixSymmetric, prefixSecretKey)
}

// NewKeys parses secrets ("whsec_…", "whsk_…") or, for verifying only,
// ed25519 public keys ("whpk_…").
func NewKeys(secrets ...string) (*Keys, error) {
	if len(secrets) == 0 {
		return nil, errors.New("signing: no secret")
	}
	k := &Keys{}
	for _, s := range secrets {
		parsed, err := parseKey(s)
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}
		k.keys = append(k.keys, parsed)
	}
	return k, nil
}

func signedContent(id string, ts int64, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(body)+24)
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '.')
	return append(b, body...)
}

// Sign returns the webhook-signature header value: one space-separated
// "v1,…" or "v1a,…" entry per signing key, in the configured order.
func (k *Keys) Sign(id string, ts time.Time, body []byte) string {
	var tsBuf [20]byte
	tsBytes := strconv.AppendInt(tsBuf[:0], ts.Unix(), 10)
	var msg []byte // the signed content in one piece, for ed25519 only
	out := make([]byte, 0, len(k.keys)*(4+base64.StdEncoding.EncodedLen(ed25519.SignatureSize)))
	for _, key := range k.keys {
		if len(out) > 0 && (key.hmac != nil || key.priv != nil) {
			out = append(out, ' ')
		}
		switch {
		case key.hmac != nil:
			// HMAC streams the parts: no copy of the body per attempt.
			h := key.hashers.Get().(*hasher)
			h.mac.Reset()
			h.prefix = append(append(append(append(h.prefix[:0], id...), '.'), tsBytes...), '.')
			h.mac.Write(h.prefix)
			h.mac.Write(body)
			var sum [sha256.Size]byte
			out = append(out, "v1,"...)
			out = base64.StdEncoding.AppendEncode(out, h.mac.Sum(sum[:0]))
			key.hashers.Put(h)
		case key.priv != nil:
			if msg == nil {
				msg = signedContent(id, ts.Unix(), body)
			}
			out = append(out, "v1a,"...)
			out = base64.StdEncoding.AppendEncode(out, ed25519.Sign(key.priv, msg))
		}
	}
	return string(out)
}

// SetHeaders sets the three Standard Webhooks headers on h.
func (k *Keys) SetHeaders(h http.Header, id string, ts time.Time, body []byte) {
	// Canonical keys, assigned directly: Set would canonicalize (and
	// allocate) the lower-case names on every delivery.
	v := make([]string, 3) // one allocation for the three values
	v[0], v[1], v[2] = id, strconv.FormatInt(ts.Unix(), 10), k.Sign(id, ts, body)
	h[canonID], h[canonTimestamp], h[canonSignature] = v[0:1:1], v[1:2:2], v[2:3:3]
}

var (
	canonID        = textproto.CanonicalMIMEHeaderKey(HeaderID)
	canonTimestamp = textproto.CanonicalMIMEHeaderKey(HeaderTimestamp)
	canonSignature = textproto.CanonicalMIMEHeaderKey(HeaderSignature)
)

// Verify checks a delivery as a receiver would: the timestamp must be within
// tolerance of now, and at least one signature must match one key.
func (k *Keys) Verify(h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsStr, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsStr == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrInvalidTimestamp, tsStr)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s away", ErrInvalidTimestamp, d.Round(time.Second))
	}
	msg := signedContent(id, ts, body)
	for _, entry := range strings.Fields(sigs) {
		version, sigB64, ok := strings.Cut(entry, ",")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(sigB64)
		if err != nil {
			continue
		}
		for _, key := range k.keys {
			switch {
			case version == "v1" && key.hmac != nil:
				m := hmac.New(sha256.New, key.hmac)
				m.Write(msg)
				if subtle.ConstantTimeCompare(m.Sum(nil), sig) == 1 {
					return nil
				}
			case version == "v1a" && key.pub != nil:
				if ed25519.Verify(key.pub, msg, sig) {
					return nil
				}
			}
		}
	}
	return ErrNoMatch
}
