package eventbridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/eventbridge"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// A detail_type written through the API runs per event and cannot be
// interrupted: the actions that loop or recurse are refused when it is
// judged. The operator's file may still use them.
func TestAPIDetailTypeMayNotLoop(t *testing.T) {
	for _, tmpl := range []string{
		`{{range 50000000}}{{end}}x`,
		`{{define "t"}}{{template "t"}}{{end}}{{template "t"}}`,
		`{{block "b" .}}{{.Type}}{{end}}`,
		`{{if .Type}}{{range $i, $c := .Type}}{{$c}}{{end}}{{end}}`,
	} {
		doc := `{"name":"eb","events":[">"],"eventbridge":{"source":"com.example","detail_type":` + jsonString(tmpl) + `}}`
		sinktest.RequireAPIFieldRefused(t, doc, "eventbridge.detail_type")
	}
	// with and if neither loop nor recurse.
	ok := `{"name":"eb","events":[">"],"eventbridge":{"source":"com.example","detail_type":"{{with .Subject}}{{.}}{{else}}{{if .Type}}{{.Type}}{{end}}{{end}}"}}`
	if _, err := (config.Loader{}).ParseSink([]byte(ok), config.Defaults()); err != nil {
		t.Errorf("with/if refused: %v", err)
	}
	// The operator's file keeps range.
	yaml := "sinks:\n  - name: eb\n    events: [\">\"]\n    eventbridge:\n      source: com.example\n      detail_type: '{{range $i, $c := .Type}}{{$c}}{{end}}'\n"
	if _, err := (config.Loader{}).Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("file sink with range refused: %v", err)
	}
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// EventBridge takes a DetailType of at most 128 characters and refuses
// the whole PutEvents call otherwise: an over-long one fails its own event
// for good (dead-lettered, with the reason), before any call.
func TestDetailTypeOutputIsCapped(t *testing.T) {
	staticAWS(t)
	f := newFake(t)
	d := newDriver(t, f.URL, func(c *eventbridge.Config) {
		c.DetailType = `{{.Type}}{{if eq .ID "long"}}{{printf "%0200d" 0}}{{end}}`
	})
	batch := []*event.Event{
		{ID: "ok", Type: "t", Time: time.Now(), Data: []byte(`{}`)},
		{ID: "long", Type: "t", Time: time.Now(), Data: []byte(`{}`)},
		{ID: "wide", Type: strings.Repeat("é", 128), Time: time.Now(), Data: []byte(`{}`)}, // 128 characters, 256 bytes
	}
	err := d.Send(context.Background(), batch)
	if sink.ErrorFor(err, 0) != nil || sink.ErrorFor(err, 2) != nil {
		t.Fatalf("short detail types failed: %v", err)
	}
	c := sink.Classify(sink.ErrorFor(err, 1))
	if c.Class != sink.Permanent || !strings.Contains(c.Error(), "128") {
		t.Fatalf("over-long detail type: %v, want a permanent error naming the limit", sink.ErrorFor(err, 1))
	}
	if n := len(f.Received()); n != 2 {
		t.Errorf("%d entries put, want 2", n)
	}
}
