package testutil

import (
	"io"
	"log/slog"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// OpenBus connects a Bus to js with the default config, changed by
// configure (small stream limits, say, so the server can reserve them),
// and ensures the streams. The Bus closes with the test.
func OpenBus(t testing.TB, js *JetStream, configure func(*config.Config)) (*bus.Bus, *config.Config) {
	t.Helper()
	cfg := config.Defaults()
	cfg.NATS.URL = js.URL()
	if configure != nil {
		configure(cfg)
	}
	b, err := bus.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.EnsureStreams(t.Context()); err != nil {
		t.Fatal(err)
	}
	return b, cfg
}
