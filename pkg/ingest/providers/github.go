package providers

import (
	"encoding/hex"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
)

func init() {
	kept := []string{"X-GitHub-Event", "X-GitHub-Delivery", "X-GitHub-Hook-ID",
		"X-GitHub-Hook-Installation-Target-ID", "X-GitHub-Hook-Installation-Target-Type"}
	provider.Register(provider.Spec{
		Name:  "github",
		Order: 20,
		Doc: provider.Doc{
			Signature: "`X-Hub-Signature-256: sha256=<hex>`",
			Type:      "`X-GitHub-Event` + body `action` (`issues.opened`)",
			ID:        "`X-GitHub-Delivery`",
			Kept:      "`X-GitHub-Event`, `-Delivery`, `-Hook-ID`, `-Hook-Installation-Target-*`",
		},
		Verifier: func(s provider.Source) (provider.Verifier, error) {
			return provider.HeaderHMAC(provider.Keys(s), "X-Hub-Signature-256", "sha256=", hex.DecodeString), nil
		},
		Identify: func(_ provider.Source, h http.Header, body []byte) (id, typ string) {
			id, typ = h.Get("X-GitHub-Delivery"), h.Get("X-GitHub-Event")
			if a := gjson.GetBytes(body, "action"); a.Type == gjson.String && a.Str != "" && typ != "" {
				typ += "." + a.Str
			}
			return id, typ
		},
		Keep: func(provider.Source) []string { return kept },
	})
}
