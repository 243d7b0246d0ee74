package nats_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	natssink "github.com/switchyard-dev/switchyard/pkg/sink/nats"
)

// A nats sink without url publishes on the gateway's own connection: a
// subject of the JetStream API once let a test event of type
// STREAM.PURGE.EVENTS purge the events stream. Validation refuses the
// subject, and should a sink get past it (a record stored before the
// rule), the driver refuses the publish, permanently, and the stream
// keeps its events.
func TestSharedConnectionNeverPublishesOnReservedSubjects(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	b, cfg := testutil.OpenBus(t, js, nil)
	ctx := context.Background()
	for i := range 5 {
		if _, err := js.JS.Publish(ctx, "events.order.created", []byte(`{}`), jetstream.WithMsgID("o"+string(rune('0'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	count := func() uint64 {
		s, err := js.JS.Stream(ctx, cfg.Stream.Name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if n := count(); n != 5 {
		t.Fatalf("events stream holds %d, want 5", n)
	}

	for _, tt := range []struct{ subject, typ string }{
		{"$JS.API.>", "STREAM.PURGE." + cfg.Stream.Name},
		{"$JS.API.STREAM.PURGE." + cfg.Stream.Name, "x"},
		{"$KV.>", bus.SinksBucket + ".evil"},
		{"$O.>", "bucket.x"},
		{"$SYS.>", "REQ.SERVER.PING"},
		{"_INBOX.>", "abc"},
		{"switchyard.>", "sink.x.state"},
		{"dlq.>", "x"},
		{"events.>", "x"},
	} {
		src := "sinks:\n  - name: bridge\n    events: [\">\"]\n    nats: {subject: \"" + tt.subject + "\"}\n"
		_, err := config.Parse("l.yaml", []byte(src), func(string) (string, bool) { return "", false })
		if err == nil || !strings.Contains(err.Error(), "sinks[0].nats.subject") {
			t.Errorf("subject %q: validation = %v, want a problem on sinks[0].nats.subject", tt.subject, err)
		}
		spec := `{"name":"bridge","events":[">"],"nats":{"subject":"` + tt.subject + `"}}`
		var fe config.FieldErrors
		if _, err := (config.Loader{}).ParseSink([]byte(spec), cfg); !errors.As(err, &fe) || len(fe) == 0 || fe[0].Field != "nats.subject" {
			t.Errorf("subject %q: ParseSink = %v, want a field error on nats.subject", tt.subject, err)
		}

		d, err := natssink.New(ctx, natssink.Config{Subject: tt.subject, Timeout: config.Duration{D: 2 * time.Second}}, b.Conn)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Send(ctx, []*event.Event{{ID: "evt_1", Type: tt.typ, Time: time.Now(), Data: []byte(`{}`)}})
		if c := sink.Classify(err); err == nil || c.Class != sink.Permanent {
			t.Errorf("subject %q, type %q: Send = %v (%v), want a permanent refusal", tt.subject, tt.typ, err, c.Class)
		}
		_ = d.Close(ctx)
	}
	if n := count(); n != 5 {
		t.Fatalf("events stream holds %d after the sends, want 5 (purged through the sink)", n)
	}
}
