package apisinks

import (
	"encoding/json"
	"reflect"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The examples of RFC 7396, appendix A, and the target left unchanged.
func TestMergePatch(t *testing.T) {
	for _, c := range []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		target := decode(t, c.target)
		before := decode(t, c.target)
		got := MergePatch(target, decode(t, c.patch))
		if want := decode(t, c.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s patched with %s = %v, want %v", c.target, c.patch, got, want)
		}
		if !reflect.DeepEqual(target, before) {
			t.Errorf("%s patched with %s changed the target to %v", c.target, c.patch, target)
		}
	}
}

// A fingerprint sent back where a secret was stands for that secret; a
// new value, or one at another place, is kept as sent.
func TestRestoreSecrets(t *testing.T) {
	raw := decode(t, `{"webhook":{"url":"http://x","secrets":["s1","s2"],"headers":{"Authorization":"Bearer t"}}}`).(map[string]any)
	redacted := decode(t, `{"webhook":{"url":"http://x","secrets":["fp1","fp2"],"headers":{"Authorization":"fpA"}}}`).(map[string]any)
	patched := decode(t, `{"webhook":{"url":"http://y","secrets":["new","fp2"],"headers":{"Authorization":"fpA"}},"other":"fpA"}`).(map[string]any)
	RestoreSecrets(patched, raw, redacted)
	want := decode(t, `{"webhook":{"url":"http://y","secrets":["new","s2"],"headers":{"Authorization":"Bearer t"}},"other":"fpA"}`)
	if !reflect.DeepEqual(any(patched), want) {
		t.Fatalf("restored %v, want %v", patched, want)
	}
}
