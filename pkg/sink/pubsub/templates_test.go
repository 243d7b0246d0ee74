package pubsub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/pubsub"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// An ordering_key written through the API runs per event and cannot be
// interrupted: the actions that loop or recurse are refused when it is
// judged. The operator's file may still use them.
func TestAPIOrderingKeyMayNotLoop(t *testing.T) {
	for _, tmpl := range []string{`{{range 50000000}}{{end}}x`, `{{define "t"}}{{template "t"}}{{end}}{{template "t"}}`} {
		doc := `{"name":"ps","events":[">"],"pubsub":{"project":"p","topic":"t","ordering_key":"` + strings.ReplaceAll(tmpl, `"`, `\"`) + `"}}`
		sinktest.RequireAPIFieldRefused(t, doc, "pubsub.ordering_key")
	}
	yaml := "sinks:\n  - name: ps\n    events: [\">\"]\n    pubsub:\n      project: p\n      topic: t\n      ordering_key: '{{range $i, $c := .Type}}{{$c}}{{end}}'\n"
	if _, err := (config.Loader{}).Parse("test.yaml", []byte(yaml), func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("file sink with range refused: %v", err)
	}
}

// Pub/Sub takes ordering keys of at most 1 KB: a longer one fails its own
// event for good (dead-lettered, with the reason), unpublished.
func TestOrderingKeyOutputIsCapped(t *testing.T) {
	srv, _ := newServer(t)
	d := newDriver(t, srv.Addr, func(c *pubsub.Config) {
		c.OrderingKey = `{{.Subject}}{{if eq .ID "long"}}{{printf "%01100d" 0}}{{end}}`
	})
	batch := []*event.Event{
		{ID: "ok", Type: "t", Subject: "A", Time: time.Now(), Data: []byte("a")},
		{ID: "long", Type: "t", Subject: "A", Time: time.Now(), Data: []byte("b")},
	}
	if k := d.OrderingKey(batch[1]); k != "" {
		t.Errorf("ordering key of %d bytes handed to the dispatcher", len(k))
	}
	err := d.Send(context.Background(), batch)
	if sink.ErrorFor(err, 0) != nil {
		t.Fatalf("short key failed: %v", err)
	}
	c := sink.Classify(sink.ErrorFor(err, 1))
	if c.Class != sink.Permanent || !strings.Contains(c.Error(), "1024") {
		t.Fatalf("over-long ordering key: %v, want a permanent error naming the limit", sink.ErrorFor(err, 1))
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages published, want 1", n)
	}
}
