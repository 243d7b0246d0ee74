package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

const sharedDelivery = "    delivery: shared\n"

// A shared sink is fed by the fixed shared consumers: it has none of its
// own, and its events arrive signed, once each, as a dedicated sink's do.
func TestSharedSinkDeliversWithoutAConsumerOfItsOwn(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("a", `["order.*"]`, 4, sharedDelivery) + rc.SinkYAML("b", `["order.completed", "invoice.>"]`, 4, sharedDelivery)})
	for i := 0; i < 20; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("c%d", i), []byte(`{"n":1}`), nil)
	}
	for i := 0; i < 10; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("r%d", i), []byte(`{"n":2}`), nil)
	}
	gatewaytest.Publish(t, g, "user.signup", "u0", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "30 deliveries to a and 20 to b", func() bool {
		return len(rc.Hits("a")) >= 30 && len(rc.Hits("b")) >= 20
	})
	testutil.Holds(t, 300*time.Millisecond, "no delivery beyond 30 to a and 20 to b", func() bool {
		return len(rc.Hits("a")) == 30 && len(rc.Hits("b")) == 20
	})
	for _, name := range []string{"a", "b"} {
		seen := map[string]bool{}
		for _, h := range rc.Hits(name) {
			if !h.Valid {
				t.Errorf("sink %s: invalid signature on %s", name, h.ID)
			}
			if seen[h.ID] {
				t.Errorf("sink %s: %s delivered twice", name, h.ID)
			}
			seen[h.ID] = true
		}
		if _, err := g.Bus().JS.Consumer(context.Background(), "EVENTS", name); err == nil {
			t.Errorf("shared sink %s has a consumer of its own", name)
		}
	}
	var list []gatewayapi.SinkStatus
	adminDo(t, g, "GET", "/v1/sinks", &list)
	for _, s := range list {
		if s.Delivered == 0 || s.Pending != 0 {
			t.Errorf("status of %s: delivered %d, pending %d", s.Name, s.Delivered, s.Pending)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the deliveries stream empties", func() bool {
		st, err := g.Bus().JS.Stream(context.Background(), event.DeliveriesStream)
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 0
	})
}

// A paused shared sink is offered nothing; its events wait, counted in
// its status, across a restart, and all arrive after its resume.
func TestSharedSinkPauseHoldsAcrossRestartAndResumeDrains(t *testing.T) {
	rc := testutil.NewReceiver(t)
	dir := t.TempDir()
	sinks := rc.SinkYAML("s", `[">"]`, 4, sharedDelivery)
	g, stop := gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	do := func(m, p string, out any) int { return adminDo(t, g, m, p, out) }
	if code := do("POST", "/v1/sinks/s/pause", nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	for i := 0; i < 5; i++ {
		gatewaytest.Publish(t, g, "order.completed", fmt.Sprintf("p%d", i), []byte(`{}`), nil)
	}
	testutil.Holds(t, 500*time.Millisecond, "no delivery while paused", func() bool { return len(rc.Hits("s")) == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g, _ = gatewaytest.Run(t, gatewaytest.Options{Dir: dir, Sinks: sinks})
	do = func(m, p string, out any) int { return adminDo(t, g, m, p, out) }
	testutil.Holds(t, 500*time.Millisecond, "no delivery while paused after restart", func() bool { return len(rc.Hits("s")) == 0 })
	var status []gatewayapi.SinkStatus
	do("GET", "/v1/sinks", &status)
	if len(status) != 1 || status[0].State != "paused" || status[0].Pending != 5 {
		t.Errorf("while paused: %+v; want paused with 5 pending", status)
	}
	if code := do("POST", "/v1/sinks/s/resume", nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	testutil.WaitFor(t, 10*time.Second, "the backlog to drain on resume", func() bool { return len(rc.Hits("s")) == 5 })
	testutil.Holds(t, 300*time.Millisecond, "each once", func() bool { return len(rc.Hits("s")) == 5 })
}

// A shared API sink deleted through one replica leaves every replica's
// index: no replica hands on records for it afterwards (a sink stopped
// without a delete keeps its place, and its records park).
func TestDeletedSharedSinkLeavesEveryReplicasIndex(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	ep := newEndpointLog(t)
	var logA, logB testutil.SyncBuffer
	a, _ := startReplica(t, js.URL(), &logA)
	b, _ := startReplica(t, js.URL(), &logB)
	ctx := context.Background()
	if _, err := a.Admin().Endpoints.CreateSink(ctx, apiSinkSpecAs(t, "acme", ep.srv.URL+"/acme", "shared"), "test"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "replica B running the sink", func() bool {
		_, ok := gateway.RunningTenant(b, "orders")
		return ok
	})
	inc := gateway.Incarnation(b, "orders")
	if err := a.Admin().Endpoints.DeleteSink(ctx, "orders", "test"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "replica B applying the delete", func() bool {
		_, ok := gateway.RunningTenant(b, "orders")
		return !ok
	})
	for i := 0; i < 20; i++ {
		m := nats.NewMsg(subject.TenantEvent("acme", "order.created"))
		m.Header.Set(event.HeaderMsgID, fmt.Sprintf("after-%02d", i))
		if _, err := js.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.JS.Stream(ctx, event.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	// The matchers take these within milliseconds; a stale index entry
	// would leave a record due or parked for the deleted incarnation.
	testutil.Holds(t, time.Second, "no record for the deleted sink", func() bool {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			return false
		}
		for subj, n := range info.State.Subjects {
			if strings.HasSuffix(subj, "."+inc) && n > 0 {
				t.Logf("%s holds %d", subj, n)
				return false
			}
		}
		return true
	})
	if n := ep.count("/acme", "after"); n != 0 {
		t.Fatalf("%d events delivered to a deleted sink", n)
	}
}
