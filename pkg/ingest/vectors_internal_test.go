package ingest

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Published vectors, none computed by this package: each must verify, and
// a one-bit change of the body must not.
func TestVerifierVectors(t *testing.T) {
	swID, swTS, swBody := "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`)
	swAt := time.Unix(swTS, 0)
	stripeAt := time.Unix(1700000000, 0)
	stripeBody := []byte(`{"id":"evt_test","type":"payment_intent.succeeded"}`)
	stripe := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripeBody, Secret: "whsec_test_secret", Timestamp: stripeAt})
	tests := []struct {
		name string
		src  config.Source
		hdr  http.Header
		body []byte
		now  time.Time
	}{
		// /work/shared/ARCHITECTURE.md: the Standard Webhooks v1 vector.
		{"standard webhooks v1", config.Source{Name: "a", Verify: config.VerifyStandardWebhooks, Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
			http.Header{"Webhook-Id": {swID}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}}, swBody, swAt},
		// The v1a (ed25519) vector, verified with the signer's key.
		{"standard webhooks v1a", config.Source{Name: "a", Verify: config.VerifyStandardWebhooks, Secrets: []string{"whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="}},
			http.Header{"Webhook-Id": {swID}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="}}, swBody, swAt},
		// GitHub's documented example (docs.github.com, "Validating webhook
		// deliveries"): secret "It's a Secret to Everybody", payload
		// "Hello, World!".
		{"github docs example", config.Source{Name: "a", Verify: config.VerifyGitHub, Secrets: []string{"It's a Secret to Everybody"}},
			http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}, []byte("Hello, World!"), time.Now()},
		// Shopify: base64 HMAC-SHA256 of the raw body, as computed by
		// `openssl dgst -sha256 -hmac hush -binary | base64` over Shopify's
		// example body.
		{"shopify", config.Source{Name: "a", Verify: config.VerifyShopify, Secrets: []string{"hush"}},
			http.Header{"X-Shopify-Hmac-Sha256": {"fp5HwmAHEVGQQwJU1KRpk57Ts2YHF6/TLOCczCtB5bs="}}, []byte(`{"id":820982911946154508,"email":"jon@doe.ca"}`), time.Now()},
		// Stripe: stripe-go's own test signer, old timestamp, clock set to it.
		{"stripe", config.Source{Name: "a", Verify: config.VerifyStripe, Secrets: []string{"whsec_test_secret"}},
			http.Header{"Stripe-Signature": {stripe.Header}}, stripeBody, stripeAt.Add(4 * time.Minute)},
		// The generic verifier, configured as GitHub's scheme.
		{"hmac-sha256 as github", config.Source{Name: "a", Verify: config.VerifyHMAC, Secrets: []string{"It's a Secret to Everybody"}, Header: "X-Sig", Prefix: "sha256=", Encoding: "hex"},
			http.Header{"X-Sig": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}, []byte("Hello, World!"), time.Now()},
		{"hmac-sha256 base64 as shopify", config.Source{Name: "a", Verify: config.VerifyHMAC, Secrets: []string{"x", "hush"}, Header: "X-Sig", Encoding: "base64"},
			http.Header{"X-Sig": {"fp5HwmAHEVGQQwJU1KRpk57Ts2YHF6/TLOCczCtB5bs="}}, []byte(`{"id":820982911946154508,"email":"jon@doe.ca"}`), time.Now()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newVerifier(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if ref := v(tt.hdr, tt.body, tt.now); ref != nil {
				t.Fatalf("vector refused: %v", ref)
			}
			flipped := append([]byte(nil), tt.body...)
			flipped[0] ^= 1
			if ref := v(tt.hdr, flipped, tt.now); ref == nil || ref.reason != ReasonMismatch {
				t.Fatalf("flipped body: %v, want %s", ref, ReasonMismatch)
			}
		})
	}
}

func TestTypeToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"orders/create", "orders.create"},
		{"customer.subscription.created", "customer.subscription.created"},
		{"issues", "issues"},
		{"app_subscriptions/update", "app_subscriptions.update"},
		{"a b*c>", "a_b_c_"},
		{"/a//b./", "a.b"},
		{"ünï", "__n__"}, // byte by byte: each UTF-8 byte becomes _,
	}
	for _, tt := range tests {
		if got, err := TypeToken(tt.in); err != nil || got != tt.want {
			t.Errorf("TypeToken(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/", "..."} {
		if got, err := TypeToken(bad); err == nil {
			t.Errorf("TypeToken(%q) = %q, want an error", bad, got)
		}
	}
}

// The limiter lets through a second's worth at once and no more, from
// many goroutines, and refills at the rate. In a bubble the clock stands
// still while the goroutines run, so the counts and the wait are exact.
func TestLimiter(t *testing.T) {
	synctest.Test(t, testLimiter)
}

func testLimiter(t *testing.T) {
	l := newLimiter(100) // a bucket of 100, one event per 10ms
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if allowed, _ := l.allow(1); allowed {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := ok.Load(); n != 100 {
		t.Fatalf("%d of 400 allowed at once, want 100", n)
	}
	allowed, wait := l.allow(1)
	if allowed || wait != 10*time.Millisecond {
		t.Fatalf("empty bucket: allowed %v, wait %s, want a wait of 10ms", allowed, wait)
	}
	time.Sleep(wait)
	if allowed, _ := l.allow(1); !allowed {
		t.Fatal("not refilled after the wait")
	}
	// A request larger than the bucket is refused while it is not full
	// and passes (emptying it) when it is.
	big := newLimiter(10)
	if ok, _ := big.allow(1000); !ok {
		t.Fatal("a full bucket refused an oversized request")
	}
	if ok, _ := big.allow(1); ok {
		t.Fatal("the oversized request did not empty the bucket")
	}
}
