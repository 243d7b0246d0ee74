// Package consumers keeps a sink's two durable consumers (its events and
// its redrives) its own incarnation's: Ensure creates or adopts them and
// clears what an earlier API sink of the name left, Delete removes them
// with what was handed back on them, and Recreate is a dispatcher's way
// back from a lost one, after the recorded ack floor. A sink's incarnation
// (apisinks.NewIncarnation, apisinks.FileIncarnation) tells it from every
// other sink that had or will have its name.
package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ackfloor"
	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Current says whether an API sink is still the one its name stands for
// in the sinks bucket (apisinks.Store).
type Current interface {
	StillCurrent(ctx context.Context, s config.Sink) error
}

// Keeper ensures, deletes and recreates the sinks' consumers.
type Keeper struct {
	Bus       *bus.Bus
	Stream    string // the events stream (a reload never changes it)
	Handbacks *dispatch.Handbacks
	// State and Retry read the ack floors.
	State   ackfloor.Getter
	Retry   *bus.Retrier
	Current Current
	Log     *slog.Logger
}

// Ensure creates or updates a sink's consumers, which must be
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
func (k *Keeper) Ensure(ctx context.Context, s config.Sink, maxBatch int) (events, redrive jetstream.Consumer, err error) {
	events, redrive, err = k.Bus.EnsureConsumers(ctx, s, maxBatch, ackfloor.Read(ctx, k.State, k.Retry, s.Name, s.Incarnation))
	var ie *bus.IncarnationError
	if !errors.As(err, &ie) {
		return events, redrive, err
	}
	switch {
	case apisinks.IsFileIncarnation(s):
		return nil, nil, fileSinkTaken(s.Name, ie)
	case strings.HasPrefix(ie.Have, "api-") && k.Current.StillCurrent(ctx, s) == nil:
		k.Log.Warn("an earlier API sink of this name left its consumers: removing them, the sink starts clean",
			"sink", s.Name, "incarnation", s.Incarnation, "left_by", ie.Have)
		k.Delete(ctx, "delete sink", s.Name)
		events, redrive, err = k.Bus.EnsureConsumers(ctx, s, maxBatch, 0)
	}
	return events, redrive, err
}

// fileSinkTaken is the refusal of a file sink whose name's consumer is
// an API sink's.
func fileSinkTaken(name string, ie *bus.IncarnationError) error {
	return fmt.Errorf("sink %s: its name's consumer belongs to the API sink %s (incarnation %s), whose position, redeliveries and dead letters a file sink must not take over: "+
		"rename the file sink, or remove it from the file, delete the API sink (DELETE /v1/sinks/%s) and add it again: %w", name, name, ie.Have, name, ie)
}

// Delete deletes the events and redrive consumers of the sinks called
// names, and what was handed back on them; why prefixes what it logs of a
// failure.
func (k *Keeper) Delete(ctx context.Context, why string, names ...string) {
	for _, name := range names {
		for _, c := range []struct{ stream, name string }{{k.Stream, name}, {bus.RedriveStream, subject.RedriveConsumer(name)}} {
			if err := k.Bus.JS.DeleteConsumer(ctx, c.stream, c.name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				k.Log.Warn(why+": consumer", "consumer", c.name, "err", err)
			}
			if err := k.Handbacks.Purge(ctx, c.stream, c.name); err != nil {
				k.Log.Warn(why+": handbacks", "consumer", c.name, "err", err)
			}
		}
	}
}

// Recreate is a dispatcher's way back from a lost consumer of sink s: the
// events consumer restarts after the recorded ack floor, the redrive
// consumer (a work queue: what was acked is gone) from its start.
func (k *Keeper) Recreate(s config.Sink, maxBatch int) func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error) {
	return func(ctx context.Context, lost jetstream.Consumer) (jetstream.Consumer, error) {
		info := lost.CachedInfo()
		// Deleted (or deleted and created again) through the API by
		// another replica, whose delete removed the consumer: recovering
		// it would resurrect the sink, or take the new sink's consumer.
		if err := k.Current.StillCurrent(ctx, s); err != nil {
			return nil, err
		}
		switch info.Name {
		case s.Name:
			cc, floor := resumeOf(info, bus.ConsumerConfig(s, maxBatch))
			return k.Bus.RecreateConsumer(ctx, info.Stream, cc, max(floor, ackfloor.Read(ctx, k.State, k.Retry, s.Name, s.Incarnation)))
		case bus.RedriveConsumerConfig(s, maxBatch).Durable:
			return k.Bus.RecreateConsumer(ctx, info.Stream, bus.RedriveConsumerConfig(s, maxBatch), 0)
		}
		return nil, errors.New("not a consumer of this sink: " + info.Name)
	}
}

// resumeOf is where a lost events consumer had got to, as its last known
// info says: the ack floor it had reached, and where it began. With no
// floor recorded (nothing settled yet, or lost before the recorder's first
// round), cc's start of "now" would skip every event the lost consumer had
// not settled; its own start (a time, or a sequence once recreated) costs
// redeliveries at most. The info may be stale, but a floor only rises, so
// it never starts the new consumer past an unsettled event.
func resumeOf(info *jetstream.ConsumerInfo, cc jetstream.ConsumerConfig) (jetstream.ConsumerConfig, uint64) {
	floor := info.AckFloor.Stream
	switch {
	case info.Config.OptStartSeq > 0:
		floor = max(floor, info.Config.OptStartSeq-1)
	case info.Config.OptStartTime != nil:
		cc.OptStartTime = info.Config.OptStartTime
	}
	return cc, floor
}
