package demo_test

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/demo"
)

// The EventBridge demo signs with static credentials of its own sink kind:
// it never writes AWS credentials into the process environment.
func TestEventBridgeDemoLeavesEnvironmentAlone(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Skipf("%s is set (%d bytes): nothing to observe", k, len(v))
		}
	}
	if _, err := demo.Run(context.Background(), demo.Options{Sink: "eventbridge", Events: 20, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("the demo set %s", k)
		}
	}
}
