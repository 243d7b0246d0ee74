package providers

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
)

func init() {
	provider.Register(provider.Spec{
		Name:  "hmac-sha256",
		Order: 90, // the generic one after the named providers
		Doc: provider.Doc{
			Signature: "`header`, `encoding: hex\\|base64`, optional `prefix` (`sha256=`)",
			Type:      "`type_header`, else body `type`",
			ID:        "`id_header`, else body `id`, else the body's SHA-256",
			Kept:      "the id and type headers",
		},
		Options: true,
		Defaults: func(s *provider.Source) {
			if s.Encoding == "" {
				s.Encoding = "hex"
			}
		},
		Validate: func(s provider.Source, at func(field, format string, args ...any)) {
			if s.Header == "" {
				at("header", "missing: the header that carries the signature")
			}
			if s.Encoding != "hex" && s.Encoding != "base64" {
				at("encoding", "must be hex or base64, got %q", s.Encoding)
			}
		},
		Verifier: func(s provider.Source) (provider.Verifier, error) {
			decode := hex.DecodeString
			if s.Encoding == "base64" {
				decode = base64.StdEncoding.DecodeString
			}
			return provider.HeaderHMAC(provider.Keys(s), s.Header, s.Prefix, decode), nil
		},
		Identify: func(s provider.Source, h http.Header, body []byte) (id, typ string) {
			id, typ = h.Get(s.IDHeader), h.Get(s.TypeHeader)
			if s.IDHeader == "" {
				id = gjson.GetBytes(body, "id").String()
			}
			if s.TypeHeader == "" {
				typ = gjson.GetBytes(body, "type").String()
			}
			if id == "" {
				// No id from the provider: the body's hash, so that its
				// retries of the same body still de-duplicate.
				sum := sha256.Sum256(body)
				id = "sha256:" + hex.EncodeToString(sum[:])
			}
			return id, typ
		},
		Keep: func(s provider.Source) []string {
			var kept []string
			for _, hd := range []string{s.IDHeader, s.TypeHeader} {
				if hd != "" {
					kept = append(kept, hd)
				}
			}
			return kept
		},
	})
}
