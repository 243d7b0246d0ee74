package providers

import (
	"encoding/base64"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
)

func init() {
	kept := []string{"X-Shopify-Topic", "X-Shopify-Event-Id", "X-Shopify-Webhook-Id", "X-Shopify-Shop-Domain",
		"X-Shopify-API-Version", "X-Shopify-Triggered-At"}
	provider.Register(provider.Spec{
		Name:  "shopify",
		Order: 30,
		Doc: provider.Doc{
			Signature: "`X-Shopify-Hmac-Sha256` (base64)",
			Type:      "`X-Shopify-Topic` (`orders/create` → `orders.create`)",
			ID:        "`X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`",
			Kept:      "`X-Shopify-Topic`, `-Shop-Domain`, `-API-Version`, `-Triggered-At`, ids",
		},
		Verifier: func(s provider.Source) (provider.Verifier, error) {
			return provider.HeaderHMAC(provider.Keys(s), "X-Shopify-Hmac-Sha256", "", base64.StdEncoding.DecodeString), nil
		},
		Identify: func(_ provider.Source, h http.Header, _ []byte) (id, typ string) {
			id, typ = h.Get("X-Shopify-Event-Id"), h.Get("X-Shopify-Topic")
			if id == "" {
				id = h.Get("X-Shopify-Webhook-Id")
			}
			return id, typ
		},
		Keep: func(provider.Source) []string { return kept },
	})
}
