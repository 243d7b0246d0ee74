// Package ackfloor keeps each sink's ack floor in the state bucket: the
// stream sequence up to which every event of the sink was settled, from
// which a lost consumer is recreated. The Recorder writes it; Read reads
// it back for the sink's incarnation.
package ackfloor

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Every is how often each sink's ack floor is recorded.
var Every = 2 * time.Second

// Key is a sink's ack-floor key in the state bucket.
func Key(sinkName string) string { return "ackfloor." + subject.Token(sinkName) }

// value is "<seq> <incarnation>"; a bare "<seq>", recorded before
// incarnations, is the sink's own.
func value(seq uint64, incarnation string) []byte {
	v := strconv.FormatUint(seq, 10)
	if incarnation != "" {
		v += " " + incarnation
	}
	return []byte(v)
}

// Getter reads the state bucket.
type Getter interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
}

// Read is the last recorded ack floor of a sink's events consumer. 0: none
// recorded, or recorded by another incarnation of the name (an old sink's
// floor would start a new one's consumer among events published before it
// existed). It waits out an election through retry: a floor not read
// while a consumer must be created anew at a start would start it at
// "now", past the events it had not settled.
func Read(ctx context.Context, kv Getter, retry *bus.Retrier, sinkName, incarnation string) uint64 {
	var e jetstream.KeyValueEntry
	err := retry.Do(ctx, "ack floor of "+sinkName, func(ctx context.Context) (err error) {
		e, err = kv.Get(ctx, Key(sinkName))
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

// Consumer is a sink's events consumer, as the Recorder reads it.
type Consumer interface {
	Info(ctx context.Context) (*jetstream.ConsumerInfo, error)
}

// Sink is one running sink, as the Recorder sees it.
type Sink struct {
	Name        string
	Incarnation string
	// Settled counts the deliveries this replica settled for the sink
	// (delivered or failed); the Recorder skips a sink while it is still.
	Settled  uint64
	Consumer Consumer
}

// Sinks is what the Recorder needs of the gateway: its running sinks.
type Sinks interface {
	AckFloorSinks() []Sink
}

// Putter writes the state bucket.
type Putter interface {
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// Recorder keeps each sink's ack floor in the state bucket while Run runs,
// and once more at its end. Replicas all write it; any of their
// values is a floor, so the race is harmless.
type Recorder struct {
	KV    Putter
	Sinks Sinks
	Log   *slog.Logger
}

// Run records every Every until ctx ends, then once more.
func (r *Recorder) Run(ctx context.Context) {
	last := map[string]uint64{}
	// A sink this replica settled nothing for since the last round has
	// nothing new to record: skipping it keeps thousands of idle sinks
	// from costing a request each every round. (Another replica's settles
	// are that replica's to record.)
	counted := map[string]uint64{}
	// A settle is counted before its ack reaches the server, so a floor
	// read just after it may not show it yet: readAt is the count at the
	// sink's last read, and a floor that did not move is taken as settled
	// only when no settle was counted since that read (its acks have had a
	// round to land), and never while it is 0 for a sink that settled
	// something. Taken at once, a floor read before the acks landed would
	// be kept until the sink settled more; a 0 records nothing, and a
	// consumer lost meanwhile would restart at "now", past what it missed.
	readAt := map[string]uint64{}
	record := func(ctx context.Context) {
		sinks := r.Sinks.AckFloorSinks()
		forgetGone(sinks, last, counted, readAt)
		for _, s := range sinks {
			if c, seen := counted[s.Name]; seen && c == s.Settled {
				continue
			}
			info, err := s.Consumer.Info(ctx)
			if err != nil || bus.CheckIncarnation(info, s.Incarnation) != nil {
				continue // not this sink's consumer any more: not its floor
			}
			prev, read := readAt[s.Name]
			readAt[s.Name] = s.Settled
			floor := info.AckFloor.Stream
			if floor == 0 || floor == last[s.Name] {
				// Unmoved: skip the sink until it settles more, once its
				// acks have had their round (above). A floor that moved
				// is read once more next round.
				if (floor == 0 && s.Settled == 0) || (floor != 0 && read && prev == s.Settled) {
					counted[s.Name] = s.Settled
				}
				continue
			}
			if _, err := r.KV.Put(ctx, Key(s.Name), value(floor, s.Incarnation)); err != nil {
				r.Log.Warn("ack floor not recorded", "sink", s.Name, "err", err)
				continue
			}
			last[s.Name] = floor
		}
	}
	t := time.NewTicker(Every)
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

// forgetGone drops from the Recorder's memories the sinks no longer
// running, so that sinks created and deleted through the API do not
// accumulate there for the life of the process.
func forgetGone(sinks []Sink, memories ...map[string]uint64) {
	running := make(map[string]struct{}, len(sinks))
	for _, s := range sinks {
		running[s.Name] = struct{}{}
	}
	for _, m := range memories {
		for name := range m {
			if _, ok := running[name]; !ok {
				delete(m, name)
			}
		}
	}
}
