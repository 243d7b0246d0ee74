package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A YAML sink is dedicated unless it says shared; an unknown delivery and
// a shared sink whose destination keeps events of a key in order (pubsub
// with an ordering_key: shared delivery keeps no order per key) are
// refused on the delivery field, at its line.
func TestSinkDelivery(t *testing.T) {
	src := `sinks:
  - name: plain
    events: [">"]
    webhook: {url: "https://x.example", secrets: [` + secret + `]}
  - name: shared
    events: [">"]
    delivery: shared
    pubsub: {project: p, topic: t}
`
	cfg, err := config.Parse("ok.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d0, d1 := cfg.Sinks[0].Delivery, cfg.Sinks[1].Delivery; d0 != config.DeliveryDedicated || d1 != config.DeliveryShared || !cfg.Sinks[1].Shared() {
		t.Fatalf("deliveries %q, %q; want dedicated, shared", d0, d1)
	}

	bad := `sinks:
  - name: ordered
    events: [">"]
    delivery: shared
    pubsub: {project: p, topic: t, ordering_key: "{{.Subject}}"}
  - name: odd
    events: [">"]
    webhook: {url: "https://x.example", secrets: [` + secret + `]}
    delivery: both
  - name: ordered-dedicated
    events: [">"]
    delivery: dedicated
    pubsub: {project: p, topic: t, ordering_key: "{{.Subject}}"}
`
	_, err = config.Parse("bad.yaml", []byte(bad), env(nil))
	want := []string{
		`bad.yaml:4: sinks[0].delivery: "shared" keeps no order of events per key, which pubsub.ordering_key asks for: use "dedicated"`,
		`bad.yaml:9: sinks[1].delivery: "both": use "dedicated" or "shared"`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("problems:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	for i, w := range want {
		if strings.TrimSpace(lines[i]) != w {
			t.Errorf("problem %d: %q, want %q", i, lines[i], w)
		}
	}
}

// Shared sinks take no consumer of the events stream, so
// stream.max_consumers counts the dedicated sinks only.
func TestMaxConsumersCountsDedicatedSinksOnly(t *testing.T) {
	sinks := func(delivery string) string {
		out := ""
		for i := 0; i < 4; i++ {
			out += fmt.Sprintf("  - name: s%d\n    events: [\">\"]\n    delivery: %s\n    webhook: {url: \"https://x.example\", secrets: [%s]}\n", i, delivery, secret)
		}
		return out
	}
	if _, err := config.Parse("ok.yaml", []byte("stream: {max_consumers: 3}\nsinks:\n"+sinks("shared")), env(nil)); err != nil {
		t.Fatalf("4 shared sinks under max_consumers 3: %v", err)
	}
	_, err := config.Parse("bad.yaml", []byte("stream: {max_consumers: 3}\nsinks:\n"+sinks("dedicated")), env(nil))
	if err == nil || !strings.Contains(err.Error(), "stream.max_consumers") {
		t.Fatalf("4 dedicated sinks under max_consumers 3: %v, want a stream.max_consumers error", err)
	}
}
