package gateway_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// The embedded JetStream's storage limit is nats.embedded.max_store, not
// a share of whatever disk the machine has: the streams' max_bytes are
// reserved against it, and a limit too small for them is a clear error.
func TestEmbeddedMaxStoreBoundsTheReservations(t *testing.T) {
	for _, c := range []struct {
		maxStore string
		wantErr  string
	}{
		{"", ""}, // the default fits the default stream limits on any disk
		{"1MiB", "max_bytes"},
	} {
		t.Run(c.maxStore, func(t *testing.T) {
			store := ""
			if c.maxStore != "" {
				store = ", max_store: " + c.maxStore
			}
			src := fmt.Sprintf("nats:\n  embedded: {listen: \"127.0.0.1:0\", store_dir: %q%s}\nadmin: {listen: \"127.0.0.1:0\", token: \"s3cret\"}\nsinks: []\n", t.TempDir(), store)
			cfg, err := config.Parse("test.yaml", []byte(src), os.LookupEnv)
			if err != nil {
				t.Fatal(err)
			}
			g, err := gateway.New(context.Background(), cfg, gateway.Options{})
			if err == nil {
				gateway.CloseForTest(g)
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("start: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("start with max_store %s: %v, want an error naming %s", c.maxStore, err, c.wantErr)
			}
		})
	}
}
