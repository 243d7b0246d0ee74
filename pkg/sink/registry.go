package sink

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Env is what the gateway hands every driver it opens.
type Env struct {
	UserAgent string
	Logger    *slog.Logger
	// Disable pauses the sink; a driver calls it when the destination asks
	// not to be sent anything more (webhooks: "webhook-delivery: disable").
	Disable func(reason string)
}

// Factory opens a driver for one configured sink.
type Factory func(ctx context.Context, s config.Sink, env Env) (Driver, error)

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a sink kind available. Drivers call it from init, and
// binaries import the drivers they want (pkg/sink/all imports every one).
func Register(kind string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := factories[kind]; dup {
		panic("sink: kind registered twice: " + kind)
	}
	factories[kind] = f
}

// Kinds lists the registered sink kinds.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for k := range factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Open builds the driver for a configured sink.
func Open(ctx context.Context, s config.Sink, env Env) (Driver, error) {
	mu.RLock()
	f, ok := factories[s.Kind()]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("sink %q: no driver for kind %q (registered: %v)", s.Name, s.Kind(), Kinds())
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	return f(ctx, s, env)
}
