package ingest_test

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// Refusals and failures are logged with the token's name and the
// reason, never with a token or a signing secret.
func TestSecretsNeverLogged(t *testing.T) {
	var logs testutil.SyncBuffer
	const stripeSecret = "whsec_never_logged_secret"
	rg := newRig(t, nil, func(o *ingest.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Sources = []config.Source{{Name: "stripe", Verify: config.VerifyStripe, Secrets: []string{stripeSecret}, TypePrefix: "stripe"}}
		o.PublishTimeout = 200 * time.Millisecond
	})
	body := []byte(`{"id":"evt_1","type":"invoice.paid"}`)
	stale := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: stripeSecret, Timestamp: time.Now().Add(-time.Hour)})
	rg.post(t, ingest.PathSourcePrefix+"stripe", "", body, map[string]string{"Stripe-Signature": stale.Header})
	rg.post(t, ingest.PathSourcePrefix+"stripe", "", body, map[string]string{"Stripe-Signature": "t=" + strconv.FormatInt(time.Now().Unix(), 10) + ",v1=00"})
	rg.post(t, ingest.PathEvents, tokenAcme+"x", []byte(`{"type":"a"}`), nil)
	rg.js.Server.Shutdown()
	rg.js.Server.WaitForShutdown()
	if resp, _ := rg.post(t, ingest.PathEvents, tokenAcme, []byte(`{"type":"a"}`), nil); resp.StatusCode != 503 {
		t.Fatalf("publish with JetStream gone: %d", resp.StatusCode)
	}
	fresh := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: stripeSecret})
	if resp, _ := rg.post(t, ingest.PathSourcePrefix+"stripe", "", body, map[string]string{"Stripe-Signature": fresh.Header}); resp.StatusCode != 503 {
		t.Fatalf("webhook with JetStream gone: %d", resp.StatusCode)
	}
	out := logs.String()
	for _, want := range []string{"stale_timestamp", "bad_signature", "publish failed", "name=acme"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{tokenAcme, stripeSecret, fresh.Header, stale.Header} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain a secret (%.8s…):\n%s", secret, out)
		}
	}
}
