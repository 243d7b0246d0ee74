package apisinks

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

func webhookDoc(t *testing.T, secrets ...string) map[string]any {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"name": "a", "webhook": map[string]any{"url": "http://127.0.0.1:1", "secrets": secrets}})
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// A rotation puts a new secret first; the old ones sign until the grace
// ends, never later than a previous rotation said, and go at once with a
// grace of 0 or when their grace is over.
func TestRotate(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	doc := webhookDoc(t, "whsec_one")
	held := sink.Default.Secrets(doc)
	var rec Record
	res := Rotate(held, &rec, time.Hour, now)
	if !slices.Equal(held.List, []string{"whsec_one"}) || res.Secret == "" || !res.PreviousExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("first rotation: %+v", res)
	}
	if got := sink.Default.Secrets(doc).List; !slices.Equal(got, []string{res.Secret, "whsec_one"}) {
		t.Fatalf("secrets after the first rotation: %v", got)
	}
	if at := rec.Expiring[config.Fingerprint("whsec_one")]; !at.Equal(now.Add(time.Hour)) {
		t.Fatalf("the old secret expires at %v", at)
	}
	second := res.Secret
	res = Rotate(sink.Default.Secrets(doc), &rec, 2*time.Hour, now.Add(time.Minute))
	if at := rec.Expiring[config.Fingerprint("whsec_one")]; !at.Equal(now.Add(time.Hour)) {
		t.Fatalf("a second rotation moved the first's expiry to %v", at)
	}
	if got := sink.Default.Secrets(doc).List; !slices.Equal(got, []string{res.Secret, second, "whsec_one"}) {
		t.Fatalf("secrets after the second rotation: %v", got)
	}
	res = Rotate(sink.Default.Secrets(doc), &rec, 0, now.Add(2*time.Minute))
	if got := sink.Default.Secrets(doc).List; !slices.Equal(got, []string{res.Secret}) || len(rec.Expiring) != 0 {
		t.Fatalf("a rotation with no grace kept %v, expiring %v", got, rec.Expiring)
	}
}

// Expired rotated-out secrets leave the running spec and the record; a
// record with none expired is left alone.
func TestExpireSecrets(t *testing.T) {
	now := time.Now()
	expiring := map[string]time.Time{config.Fingerprint("old"): now.Add(-time.Second), config.Fingerprint("later"): now.Add(time.Hour)}
	spec, _ := json.Marshal(webhookDoc(t, "new", "old", "later"))
	got, err := WithoutExpiredSecrets(sink.Default, spec, expiring, now)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(got, &doc)
	if l := sink.Default.Secrets(doc).List; !slices.Equal(l, []string{"new", "later"}) {
		t.Fatalf("running secrets %v", l)
	}
	if same, _ := WithoutExpiredSecrets(sink.Default, spec, nil, now); string(same) != string(spec) {
		t.Fatal("a spec with nothing expiring changed")
	}
	doc = webhookDoc(t, "new", "old", "later")
	rec := Record{Expiring: expiring}
	if err := ExpireSecrets(sink.Default.Secrets(doc), &rec, now); err != nil {
		t.Fatal(err)
	}
	if l := sink.Default.Secrets(doc).List; !slices.Equal(l, []string{"new", "later"}) || len(rec.Expiring) != 1 {
		t.Fatalf("stored secrets %v, expiring %v", l, rec.Expiring)
	}
	if err := ExpireSecrets(sink.Default.Secrets(doc), &rec, now); !errors.Is(err, ErrNothingExpired) {
		t.Fatalf("nothing left to expire: %v", err)
	}
	if err := ExpireSecrets(sink.Default.Secrets(doc), &rec, now.Add(2*time.Hour)); err != nil || rec.Expiring != nil {
		t.Fatalf("the last expiry: %v, expiring %v", err, rec.Expiring)
	}
}
