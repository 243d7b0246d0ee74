package gateway_test

import "testing"

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
