package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/demo"
)

// The demo is README's first command: it must settle every event, show
// retries and dead letters, and never report an invalid signature.
func TestDemoSettlesEveryEvent(t *testing.T) {
	var out bytes.Buffer
	s, err := demo.Run(context.Background(), demo.Options{Events: 200, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s.Delivered+s.DeadLettered != s.Published || s.DeadLettered == 0 || s.Retried == 0 || s.Invalid != 0 {
		t.Errorf("summary %+v", s)
	}
	if s.Verified < s.Delivered {
		t.Errorf("verified %d < delivered %d", s.Verified, s.Delivered)
	}
	if !strings.Contains(out.String(), "Summary") {
		t.Errorf("no summary printed:\n%s", out.String())
	}
}
