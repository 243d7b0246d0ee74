package apisinks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// An API sink runs under its incarnation unless the file has its name;
// the effective config is the file's sinks, then the API's that run, by
// name; an unreadable record stays as it is when judged again.
func TestBuildAndEffective(t *testing.T) {
	specOf := func(name string) json.RawMessage {
		return json.RawMessage(`{"name":"` + name + `","events":["order.*"],"webhook":{"url":"https://hooks.example.com/a","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`)
	}
	file := config.Defaults()
	f, _, err := JudgeSpec(sink.Default, specOf("f"), file)
	if err != nil {
		t.Fatal(err)
	}
	file.Sinks = []config.Sink{f}
	inc := NewIncarnation()
	api := map[string]*Sink{
		"b": Build(sink.Default, false, "b", Record{Spec: specOf("b"), IncarnationID: inc}, 3, file),
		"a": Build(sink.Default, false, "a", Record{Spec: specOf("a")}, 1, file),
		"f": Build(sink.Default, false, "f", Record{Spec: specOf("f")}, 2, file),
		"u": FromEntry(sink.Default, true, Entry{Name: "u", Rev: 4, Err: ErrNoKey}, file),
	}
	if !errors.Is(api["f"].Err, ErrNameInFile) || !errors.Is(api["u"].Err, ErrNoKey) {
		t.Fatalf("f: %v, u: %v", api["f"].Err, api["u"].Err)
	}
	if api["b"].Err != nil || api["b"].Config.Incarnation != inc || api["b"].Rev != 3 {
		t.Fatalf("b: %+v", api["b"])
	}
	var names []string
	for _, s := range Effective(file, api).Sinks {
		names = append(names, s.Name)
		if s.Incarnation == "" {
			t.Errorf("%s runs without an incarnation", s.Name)
		}
	}
	if got := strings.Join(names, ","); got != "f,a,b" {
		t.Fatalf("effective sinks %s, want f,a,b", got)
	}
	again := Rebuild(sink.Default, false, api, config.Defaults())
	if again["u"] != api["u"] || again["f"].Err != nil {
		t.Fatalf("rebuilt without f in the file: u %+v, f %v", again["u"], again["f"].Err)
	}
	if p := PendingOf(api); len(p) != 4 || p["b"].Rev != 3 {
		t.Fatalf("pending %+v", p)
	}
}
