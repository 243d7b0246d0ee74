package gateway

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// AckFloorEvery is how often each sink's ack floor is recorded in the
// state bucket, from which a lost consumer is recreated.
var AckFloorEvery = 2 * time.Second

func ackFloorKey(sinkName string) string { return "ackfloor." + subject.Token(sinkName) }

// ackFloor is the last recorded ack floor of a sink's events consumer: the
// stream sequence up to which every event was settled. 0: none recorded,
// or recorded by another incarnation of the name (an old sink's floor
// would start a new one's consumer among events published before it
// existed). The value is "<seq> <incarnation>"; a bare "<seq>", recorded
// before incarnations, is the sink's own.
func (g *Gateway) ackFloor(ctx context.Context, sinkName, incarnation string) uint64 {
	// Waits out an election: a floor not read while a consumer must be
	// created would start it at the sink's creation time (redeliveries).
	var e jetstream.KeyValueEntry
	err := g.retry.Do(ctx, "ack floor of "+sinkName, func(ctx context.Context) (err error) {
		e, err = g.state.Get(ctx, ackFloorKey(sinkName))
		return err
	})
	if err != nil {
		return 0
	}
	seq, inc, tagged := strings.Cut(string(e.Value()), " ")
	if tagged && incarnation != "" && inc != incarnation {
		return 0
	}
	n, _ := strconv.ParseUint(seq, 10, 64)
	return n
}

func ackFloorValue(seq uint64, incarnation string) []byte {
	v := strconv.FormatUint(seq, 10)
	if incarnation != "" {
		v += " " + incarnation
	}
	return []byte(v)
}

// recordAckFloors keeps each sink's ack floor in the state bucket until
// ctx ends, and once more at the end. Replicas all write it; any of their
// values is a floor, so the race is harmless.
func (g *Gateway) recordAckFloors(ctx context.Context) {
	last := map[string]uint64{}
	// A sink this replica settled nothing for since the last round has
	// nothing new to record: skipping it keeps thousands of idle sinks
	// from costing a request each every round. (Another replica's settles
	// are that replica's to record.)
	counted := map[string]uint64{}
	record := func(ctx context.Context) {
		for _, rs := range g.sinkList() {
			ok, failed := rs.dispatcher.Counts()
			n := ok + failed
			if c, seen := counted[rs.cfg.Name]; seen && c == n {
				continue
			}
			info, err := rs.consumer.Info(ctx)
			if err != nil || bus.CheckIncarnation(info, rs.cfg.Incarnation) != nil {
				continue // not this sink's consumer any more: not its floor
			}
			floor := info.AckFloor.Stream
			if floor == 0 || floor == last[rs.cfg.Name] {
				// Settled: skip the sink until it settles more. A floor
				// that moved is read once more next round (acks land
				// after the settles that counted them).
				counted[rs.cfg.Name] = n
				continue
			}
			if _, err := g.state.Put(ctx, ackFloorKey(rs.cfg.Name), ackFloorValue(floor, rs.cfg.Incarnation)); err != nil {
				g.log.Warn("ack floor not recorded", "sink", rs.cfg.Name, "err", err)
				continue
			}
			last[rs.cfg.Name] = floor
		}
	}
	t := time.NewTicker(AckFloorEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			record(fctx)
			cancel()
			return
		case <-t.C:
			record(ctx)
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
			return g.bus.RecreateConsumer(ctx, info.Stream, bus.ConsumerConfig(sc.cfg, maxBatch), g.ackFloor(ctx, sc.cfg.Name, sc.cfg.Incarnation))
		case bus.RedriveConsumerConfig(sc.cfg, maxBatch).Durable:
			return g.bus.RecreateConsumer(ctx, info.Stream, bus.RedriveConsumerConfig(sc.cfg, maxBatch), 0)
		}
		return nil, errors.New("not a consumer of this sink: " + info.Name)
	}
}
