package deadletter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

// A dead letter written by a sink that no longer owns its name is taken
// back, and only that one: the new sink's record of the very same event
// (a sink re-created with the same events) stays, and carries its
// incarnation.
func TestDeadLetterOfAReplacedSinkIsTakenBack(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	m := &nats.Msg{Subject: "events.order.created", Data: []byte(`{}`), Header: nats.Header{}}
	m.Header.Set(event.HeaderMsgID, "same-event")
	if _, err := f.b.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	batch, err := f.cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		meta, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		in := deadletter.Input{Sink: "sink", Msg: msg, Meta: meta, Reason: "gone", Status: 410, Attempts: 1, Incarnation: "api-new"}
		if err := f.store.Put(ctx, in); err != nil {
			t.Fatal(err)
		}
		in.Incarnation = "api-old"
		in.Owner = func(context.Context) error {
			return &bus.IncarnationError{Consumer: "sink", Have: "api-new", Want: "api-old"}
		}
		if err := f.store.Put(ctx, in); !errors.Is(err, bus.ErrSinkReplaced) {
			t.Fatalf("the replaced sink's dead letter: %v, want ErrSinkReplaced", err)
		}
	}
	recs, err := f.store.List(ctx, "sink", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Incarnation != "api-new" {
		t.Fatalf("dead letters after the replaced sink's write was taken back: %+v, want the new sink's one", recs)
	}
}
