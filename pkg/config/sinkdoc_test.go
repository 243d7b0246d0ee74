package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// problemFields is the set of fields err (which must be FieldErrors) has
// a problem on, and err as FieldErrors.
func problemFields(t *testing.T, err error) (map[string]bool, config.FieldErrors) {
	t.Helper()
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("err %v, want FieldErrors", err)
	}
	got := map[string]bool{}
	for _, e := range fe {
		got[e.Field] = true
	}
	return got, fe
}

// A sink sent to the API is judged by the file's validator: every problem
// at once, each on its field path inside the sink.
func TestParseSinkReportsEveryFieldProblem(t *testing.T) {
	cfg := config.Defaults()
	for _, c := range []struct {
		name string
		doc  string
		want []string // fields with a problem
	}{
		{"valid", `{"name":"a","events":["order.*"],"tenant":"acme","webhook":{"url":"https://example.com/h","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`, nil},
		{"several", `{"name":"bad name","events":["a..b"],"concurrency":"lots","tenant":"a.b","webhook":{"url":"ftp://x","secrets":["nope"]}}`,
			[]string{"name", "events[0]", "concurrency", "tenant", "webhook.url", "webhook.secrets[0]"}},
		{"unknown field", `{"name":"a","events":[">"],"colour":"red","webhook":{"url":"https://example.com","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`, []string{"colour"}},
		{"no destination", `{"name":"a","events":[">"]}`, []string{""}},
		{"not an object", `[1,2]`, []string{""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := config.Loader{}.ParseSink([]byte(c.doc), cfg)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if s.Kind() != "webhook" || s.Tenant != "acme" || s.Concurrency != config.DefaultConcurrency {
					t.Fatalf("sink %+v", s)
				}
				return
			}
			got, fe := problemFields(t, err)
			want := map[string]bool{}
			for _, f := range c.want {
				want[f] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fields %v, want %v\n%v", got, want, fe)
			}
		})
	}
}

// A value of the wrong type is a problem of its field, whatever its
// shape: none is dropped (a sink would be stored without it).
func TestParseSinkKeepsEveryTypeError(t *testing.T) {
	doc := `{"name":"a","events":[">"],"description":{"a":1},"concurrency":[1],"metadata":"x","webhook":{"url":"https://example.com","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],"timeout":{"s":1}}}`
	_, err := config.Loader{}.ParseSink([]byte(doc), config.Defaults())
	got, fe := problemFields(t, err)
	for _, f := range []string{"description", "concurrency", "metadata", "webhook.timeout"} {
		if !got[f] {
			t.Errorf("no problem on %s: %v", f, fe)
		}
	}
}

// A deeply nested sink is refused before the YAML parser sees it: its
// cost grows steeply with depth, and stored records are parsed again on
// every history read, watch and start.
func TestParseSinkRefusesDeepNestingFirst(t *testing.T) {
	doc := `{"name":"a","events":[">"],"webhook":{"url":"https://example.com"},"description":` + strings.Repeat(`{"a":`, 8000) + "1" + strings.Repeat("}", 8000) + "}"
	start := time.Now()
	_, err := config.Loader{}.ParseSink([]byte(doc), config.Defaults())
	if took := time.Since(start); err == nil || !strings.Contains(err.Error(), "nested too deep") || took > 100*time.Millisecond {
		t.Fatalf("8000 levels: %v after %v, want a refusal for the depth at once", err, took)
	}
}
