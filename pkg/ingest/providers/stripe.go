package providers

import (
	"crypto/hmac"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
)

func init() {
	provider.Register(provider.Spec{
		Name:  "stripe",
		Order: 10,
		Doc: provider.Doc{
			Signature: "`Stripe-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body`, 5-minute tolerance)",
			Type:      "body `type`",
			ID:        "body `id`",
		},
		Verifier: func(s provider.Source) (provider.Verifier, error) { return stripeVerifier(provider.Keys(s)), nil },
		Identify: func(_ provider.Source, _ http.Header, body []byte) (string, string) {
			return gjson.GetBytes(body, "id").String(), gjson.GetBytes(body, "type").String()
		},
	})
}

var dot = []byte{'.'}

// stripeVerifier checks Stripe-Signature: t=<unix>,v1=<hex>[,v1=…] over
// "<t>.<body>", the timestamp within provider.Tolerance.
func stripeVerifier(keys [][]byte) provider.Verifier {
	return func(h http.Header, body []byte, now time.Time) *provider.Refusal {
		v := h.Get("Stripe-Signature")
		if v == "" {
			return provider.Refuse(provider.ReasonMissing, "no Stripe-Signature header")
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
			return provider.Refuse(provider.ReasonMissing, "Stripe-Signature has no t= or no v1= entry")
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return provider.Refuse(provider.ReasonTimestamp, "t=%q is not Unix seconds", ts)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > provider.Tolerance || d < -provider.Tolerance {
			return provider.Refuse(provider.ReasonTimestamp, "timestamp %s away", d.Round(time.Second))
		}
		for _, k := range keys {
			want := provider.MAC(k, []byte(ts), dot, body)
			for _, s := range sigs {
				if hmac.Equal(want, s) {
					return nil
				}
			}
		}
		return provider.Refuse(provider.ReasonMismatch, "no v1 signature matches a secret")
	}
}
