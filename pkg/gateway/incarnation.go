package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// A sink's incarnation (apisinks.NewIncarnation, apisinks.FileIncarnation)
// tells it from every other sink that had or will have its name.

// ensureConsumers creates or updates a sink's consumers, which must be
// its own incarnation's (bus.EnsureConsumers adopts those made before
// incarnations). Meeting another incarnation's:
//   - a file sink refuses to start: the consumer is an API sink's, and
//     taking it would inherit that sink's position, redeliveries and dead
//     letters (the error says how to free the name);
//   - an API sink that is its name's current one in the sinks bucket
//     meets what an earlier API sink of the name left (recreated by a
//     replica still running it after the delete cleaned the name): that
//     is removed, and the sink starts clean;
//   - otherwise it fails, to be retried by the change that follows.
func (g *Gateway) ensureConsumers(ctx context.Context, s config.Sink, maxBatch int) (events, redrive jetstream.Consumer, err error) {
	events, redrive, err = g.bus.EnsureConsumers(ctx, s, maxBatch, ackfloor.Read(ctx, g.state, g.retry, s.Name, s.Incarnation))
	var ie *bus.IncarnationError
	if !errors.As(err, &ie) {
		return events, redrive, err
	}
	switch {
	case apisinks.IsFileIncarnation(s):
		return nil, nil, fileSinkTaken(s.Name, ie)
	case strings.HasPrefix(ie.Have, "api-") && g.store.StillCurrent(ctx, s) == nil:
		g.log.Warn("an earlier API sink of this name left its consumers: removing them, the sink starts clean",
			"sink", s.Name, "incarnation", s.Incarnation, "left_by", ie.Have)
		g.deleteConsumers(ctx, "delete sink", s.Name)
		events, redrive, err = g.bus.EnsureConsumers(ctx, s, maxBatch, 0)
	}
	return events, redrive, err
}

// fileSinkTaken is the refusal of a file sink whose name's consumer is
// an API sink's.
func fileSinkTaken(name string, ie *bus.IncarnationError) error {
	return fmt.Errorf("sink %s: its name's consumer belongs to the API sink %s (incarnation %s), whose position, redeliveries and dead letters a file sink must not take over: "+
		"rename the file sink, or remove it from the file, delete the API sink (DELETE /v1/sinks/%s) and add it again: %w", name, name, ie.Have, name, ie)
}

// deleteConsumers deletes the events and redrive consumers of the sinks
// called names, and what was handed back on them; why prefixes what it
// logs of a failure.
func (g *Gateway) deleteConsumers(ctx context.Context, why string, names ...string) {
	for _, name := range names {
		for _, c := range []struct{ stream, name string }{{g.cfg.Stream.Name, name}, {bus.RedriveStream, subject.RedriveConsumer(name)}} {
			if err := g.bus.JS.DeleteConsumer(ctx, c.stream, c.name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				g.log.Warn(why+": consumer", "consumer", c.name, "err", err)
			}
			if err := g.handbacks.Purge(ctx, c.stream, c.name); err != nil {
				g.log.Warn(why+": handbacks", "consumer", c.name, "err", err)
			}
		}
	}
}

// recreate is the dispatchers' way back from a lost consumer: the events
// consumer restarts after the recorded ack floor, the redrive consumer
// (a work queue: what was acked is gone) from its start.
func (g *Gateway) recreate(sc sinkConfig) func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error) {
	return func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error) {
		info := lost.CachedInfo()
		// Deleted (or deleted and created again) through the API by
		// another replica, whose delete removed the consumer: recovering
		// it would resurrect the sink, or take the new sink's consumer.
		if err := g.store.StillCurrent(ctx, sc.cfg); err != nil {
			return nil, err
		}
		maxBatch := g.kinds.BatchSize(sc.cfg)
		switch info.Name {
		case sc.cfg.Name:
			return g.bus.RecreateConsumer(ctx, info.Stream, bus.ConsumerConfig(sc.cfg, maxBatch), ackfloor.Read(ctx, g.state, g.retry, sc.cfg.Name, sc.cfg.Incarnation))
		case bus.RedriveConsumerConfig(sc.cfg, maxBatch).Durable:
			return g.bus.RecreateConsumer(ctx, info.Stream, bus.RedriveConsumerConfig(sc.cfg, maxBatch), 0)
		}
		return nil, errors.New("not a consumer of this sink: " + info.Name)
	}
}
