package gateway

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/pauses"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// endpointsHost is the gateway as the endpoints see it (endpoints.Host):
// it runs what they decide.
type endpointsHost struct{ g *Gateway }

func (h endpointsHost) Running() bool { return h.g.running.Load() }

func (h endpointsHost) Apply(ctx context.Context, next *config.Config, prune bool) (config.Plan, error) {
	return h.g.apply(ctx, next, prune)
}

func (h endpointsHost) ApplySink(ctx context.Context, name string, next *config.Sink) error {
	return h.g.applySink(ctx, name, next)
}

func (h endpointsHost) Sinks() []config.Sink {
	list := h.g.sinkList()
	out := make([]config.Sink, 0, len(list))
	for _, rs := range list {
		out = append(out, rs.cfg)
	}
	return out
}

func (h endpointsHost) Sink(name string) (config.Sink, bool) {
	h.g.mu.RLock()
	defer h.g.mu.RUnlock()
	rs, ok := h.g.byName[name]
	if !ok {
		return config.Sink{}, false
	}
	return rs.cfg, true
}

func (h endpointsHost) Status(ctx context.Context, name, disabledBy string) (gatewayapi.SinkStatus, bool) {
	h.g.mu.RLock()
	rs, ok := h.g.byName[name]
	h.g.mu.RUnlock()
	if !ok {
		return gatewayapi.SinkStatus{}, false
	}
	return h.g.sinkStatus(ctx, rs, disabledBy), true
}

func (h endpointsHost) Send(ctx context.Context, name string, batch []*event.Event, observe sink.Observer) error {
	rs, err := h.g.sink(name)
	if err != nil {
		return err
	}
	return sink.SendObserved(ctx, rs.driver, batch, observe)
}

// Forget removes what a sink of this name leaves in JetStream, so a later
// sink of the same name starts clean and can never redrive or resume
// another endpoint's events.
func (h endpointsHost) Forget(ctx context.Context, name string) {
	g := h.g
	g.consumers.Delete(ctx, "delete sink", name)
	g.forgetShared(ctx, name)
	if err := g.dlq.PurgeSink(ctx, name); err != nil {
		g.log.Warn("delete sink: dead letters", "sink", name, "err", err)
	}
	for _, k := range []string{pauses.Key(name), ackfloor.Key(name)} {
		if err := g.state.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			g.log.Warn("delete sink: state", "key", k, "err", err)
		}
	}
}

func (h endpointsHost) DropConsumers(ctx context.Context, names []string) {
	h.g.consumers.Delete(ctx, "reload: prune", names...)
}
