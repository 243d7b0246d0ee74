package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/demo"
)

// The demo is README's first command: for each sink it must settle every
// event, show retries (and dead letters where the destination can refuse
// one event alone), and never report an invalid signature.
func TestDemoSettlesEveryEvent(t *testing.T) {
	for _, tt := range []struct {
		sink     string
		wantDead bool
	}{{"webhook", true}, {"eventbridge", true}, {"pubsub", false}} {
		t.Run(tt.sink, func(t *testing.T) {
			var out bytes.Buffer
			s, err := demo.Run(context.Background(), demo.Options{Sink: tt.sink, Events: 200, Out: &out})
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if s.Delivered+s.DeadLettered != s.Published || s.Retried == 0 || s.Invalid != 0 || (s.DeadLettered > 0) != tt.wantDead {
				t.Errorf("summary %+v", s)
			}
			if tt.sink == "webhook" && s.Verified < s.Delivered {
				t.Errorf("verified %d < delivered %d", s.Verified, s.Delivered)
			}
			if !strings.Contains(out.String(), "Summary") {
				t.Errorf("no summary printed:\n%s", out.String())
			}
		})
	}
}
