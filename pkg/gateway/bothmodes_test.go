package gateway_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// forEachDelivery runs fn once per delivery mode, as a subtest named after
// it: a shared sink keeps every promise a dedicated sink keeps, so the
// same test with the same assertions holds for both. delivery is the sink
// key to add to a test sink's YAML (rc.SinkYAML's extra): "" for
// dedicated, the default of a file sink.
func forEachDelivery(t *testing.T, fn func(t *testing.T, delivery string)) {
	t.Helper()
	for _, m := range []struct{ name, yaml string }{{"dedicated", ""}, {"shared", sharedDelivery}} {
		t.Run(m.name, func(t *testing.T) { fn(t, m.yaml) })
	}
}

// isShared tells a shared run of forEachDelivery, for the assertions
// about a dedicated sink's own consumer that a shared sink has the
// equivalent of somewhere else.
func isShared(delivery string) bool { return delivery != "" }

// apiDelivery is an API sink's JSON (apiSinkJSON) fed as delivery says: an
// API sink is shared unless it says otherwise.
func apiDelivery(def, delivery string) string {
	mode := "dedicated"
	if isShared(delivery) {
		mode = "shared"
	}
	return strings.Replace(def, `"concurrency":4,`, `"concurrency":4,"delivery":"`+mode+`",`, 1)
}

// deliveryRecords is how many records the deliveries stream holds: due,
// waiting for a retry or parked. Shared sinks' events wait there, where a
// dedicated sink's wait in its consumer.
func deliveryRecords(t *testing.T, g *gateway.Gateway) uint64 {
	t.Helper()
	st, err := g.Bus().JS.Stream(t.Context(), event.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
