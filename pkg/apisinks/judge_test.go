package apisinks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// A record runs only when a create of its spec would pass: valid, within
// api.allow, and sealed when a key is set; each refusal says which rule.
func TestJudgeRecord(t *testing.T) {
	file := config.Defaults()
	public := json.RawMessage(`{"name":"a","events":["order.*"],"webhook":{"url":"https://hooks.example.com/a","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`)
	private := json.RawMessage(`{"name":"a","events":["order.*"],"webhook":{"url":"http://10.0.0.1/a","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`)
	broken := json.RawMessage(`{"name":"a","events":["order.*"],"webhook":{"url":"ftp://x"}}`)
	sealed := Record{Spec: public}
	s, err := JudgeRecord(sink.Default, true, sealed, file)
	if err != nil || s.Name != "a" {
		t.Fatalf("a valid sealed record: %+v %v", s, err)
	}
	var none *Sealer
	data, _ := none.Encode("a", Record{Spec: public})
	plain, _ := none.Decode("a", data)
	for _, c := range []struct {
		rec    Record
		keyed  bool
		reason string
	}{
		{plain, true, RefusedUnsealed},
		{Record{Spec: private}, false, RefusedNotAllowed},
		{Record{Spec: broken}, false, RefusedInvalid},
	} {
		_, err := JudgeRecord(sink.Default, c.keyed, c.rec, file)
		var r *Refusal
		if !errors.As(err, &r) || r.Reason != c.reason || !strings.HasPrefix(err.Error(), "refused: ") {
			t.Errorf("%s: %v, want a refusal for %s", c.rec.Spec, err, c.reason)
		}
	}
	if _, err := JudgeRecord(sink.Default, false, plain, file); err != nil {
		t.Fatalf("a plain record without a key: %v", err)
	}
	if _, reason, err := JudgeSpec(sink.Default, private, file); reason != RefusedNotAllowed || err == nil {
		t.Fatalf("JudgeSpec of a private target: %q %v", reason, err)
	}
}
