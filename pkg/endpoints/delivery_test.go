package endpoints_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/endpoints"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// storedDelivery is the delivery the latest stored spec of name names,
// "" when it names none.
func storedDelivery(t *testing.T, kv jetstream.KeyValue, name string) string {
	t.Helper()
	e, err := kv.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	var rec apisinks.Record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Delivery *string `json:"delivery"`
	}
	if err := json.Unmarshal(rec.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Delivery == nil {
		return ""
	}
	return *spec.Delivery
}

// A sink created through the API without a delivery is shared, and its
// stored spec says so; one naming dedicated keeps it. A record stored
// before delivery existed (no delivery in its spec) reads back as
// dedicated, and the first PATCH writes that down; a PATCH moves a sink
// either way. A destination that keeps order per key (pubsub with an
// ordering_key) is refused shared on the delivery field, and a create
// that names no delivery gets dedicated for it.
func TestAPISinkDelivery(t *testing.T) {
	ctx := t.Context()
	js := testutil.StartJetStream(t, nil)
	b, busCfg := testutil.OpenBus(t, js, nil)
	kv, err := b.SinksKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state, err := b.StateKV(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Written before delivery existed: no delivery in the spec.
	now := time.Now().UTC()
	old, _ := json.Marshal(apisinks.Record{Spec: json.RawMessage(`{"name":"old","events":[">"],"webhook":{"url":"https://example.com/old","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}`),
		Op: apisinks.OpCreate, At: now, CreatedAt: now, IncarnationID: apisinks.NewIncarnation()})
	if _, err := kv.Put(ctx, "old", old); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &host{}
	e := endpoints.New(endpoints.Config{Host: h, Store: &apisinks.Store{KV: kv, State: state, Log: log}, Kinds: sink.Default,
		File: fileWith(t), JS: b.JS, Stream: busCfg.Stream.Name, Metrics: telemetry.NewMetrics(), Log: log})
	if err := e.Load(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = h.Apply(ctx, e.Effective(), false) // as the gateway starts what Load found
	runs := func(name string) string {
		t.Helper()
		s, ok := h.Sink(name)
		if !ok {
			t.Fatalf("%s does not run", name)
		}
		v, err := e.GetSink(ctx, name)
		if err != nil || v.Definition == nil || v.Definition.Delivery != s.Delivery {
			t.Fatalf("view of %s: %+v %v; runs %q", name, v, err, s.Delivery)
		}
		return s.Delivery
	}

	if got := runs("old"); got != config.DeliveryDedicated {
		t.Fatalf("a record stored before delivery existed runs %q, want dedicated", got)
	}
	if got := storedDelivery(t, kv, "old"); got != "" {
		t.Fatalf("loading wrote %q into the old record", got)
	}

	if _, err := e.CreateSink(ctx, []byte(`{"name":"a","events":[">"],"webhook":{"url":"https://example.com/a"}}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got, stored := runs("a"), storedDelivery(t, kv, "a"); got != config.DeliveryShared || stored != config.DeliveryShared {
		t.Fatalf("created without delivery: runs %q, stored %q; want shared, shared", got, stored)
	}
	if _, err := e.CreateSink(ctx, []byte(`{"name":"d","delivery":"dedicated","events":[">"],"webhook":{"url":"https://example.com/d"}}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got, stored := runs("d"), storedDelivery(t, kv, "d"); got != config.DeliveryDedicated || stored != config.DeliveryDedicated {
		t.Fatalf("created dedicated: runs %q, stored %q", got, stored)
	}

	// A PATCH that does not name delivery writes down what the old
	// record meant; one naming it moves the sink.
	if _, err := e.PatchSink(ctx, "old", []byte(`{"description":"kept"}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got, stored := runs("old"), storedDelivery(t, kv, "old"); got != config.DeliveryDedicated || stored != config.DeliveryDedicated {
		t.Fatalf("old after a PATCH of its description: runs %q, stored %q", got, stored)
	}
	if _, err := e.PatchSink(ctx, "old", []byte(`{"delivery":"shared"}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got := runs("old"); got != config.DeliveryShared {
		t.Fatalf("old after PATCH delivery shared runs %q", got)
	}
	if _, err := e.PatchSink(ctx, "a", []byte(`{"delivery":"dedicated"}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got := runs("a"); got != config.DeliveryDedicated {
		t.Fatalf("a after PATCH delivery dedicated runs %q", got)
	}
	if _, err := e.PatchSink(ctx, "a", []byte(`{"delivery":null}`), "ann"); err != nil {
		t.Fatal(err)
	}
	if got, stored := runs("a"), storedDelivery(t, kv, "a"); got != config.DeliveryShared || stored != config.DeliveryShared {
		t.Fatalf("a after PATCH delivery null (the API's default): runs %q, stored %q", got, stored)
	}
	var fe config.FieldErrors
	if _, err := e.PatchSink(ctx, "a", []byte(`{"delivery":"both"}`), "ann"); !errors.As(err, &fe) || len(fe) != 1 || fe[0].Field != "delivery" {
		t.Fatalf("PATCH delivery both: %v", err)
	}

	// Ordered destinations.
	const ordered = `"events":[">"],"pubsub":{"project":"p","topic":"t","ordering_key":"{{.Subject}}"}}`
	_, err = e.CreateSink(ctx, []byte(`{"name":"o","delivery":"shared",`+ordered), "ann")
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Field != "delivery" || fe[0].Message != `"shared" keeps no order of events per key, which pubsub.ordering_key asks for: use "dedicated"` {
		t.Fatalf("create shared with an ordering key: %v", err)
	}
	if e.Has("o") {
		t.Fatal("the refused sink was stored")
	}
	if _, err := e.CreateSink(ctx, []byte(`{"name":"o",`+ordered), "ann"); err != nil {
		t.Fatal(err)
	}
	if got, stored := runs("o"), storedDelivery(t, kv, "o"); got != config.DeliveryDedicated || stored != config.DeliveryDedicated {
		t.Fatalf("ordered, created without delivery: runs %q, stored %q; want dedicated", got, stored)
	}
	if _, err := e.PatchSink(ctx, "o", []byte(`{"delivery":"shared"}`), "ann"); !errors.As(err, &fe) || fe[0].Field != "delivery" {
		t.Fatalf("PATCH an ordered sink to shared: %v", err)
	}
	if _, err := e.CreateSink(ctx, []byte(`{"name":"u","delivery":"shared","events":[">"],"pubsub":{"project":"p","topic":"t"}}`), "ann"); err != nil {
		t.Fatalf("pubsub without an ordering key, shared: %v", err)
	}
}
