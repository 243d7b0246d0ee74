// Package limits warns before events are lost to the events stream's
// limits: a sink whose oldest unsettled event nears stream.max_age (its
// events would be removed undelivered), the stream nearing max_bytes (it
// would refuse publishes). The Watcher sets the gauges and logs each
// crossing; the Collector reads the sinks' backlogs at scrape time;
// AgeWarning is also the sink status's warning.
package limits

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// warnRatio is the fraction of a limit at which warnings start: a sink's
// oldest pending event at 80% of stream.max_age, the events stream at 80%
// of max_bytes.
const warnRatio = 0.8

// Interval is how often the Watcher checks the sinks' backlogs against
// stream.max_age and the events stream against its max_bytes.
var Interval = 15 * time.Second

// AgeWarning is a sink's warning when its oldest unsettled event has been
// in the stream most of maxAge (stream.max_age), and the fraction of it.
func AgeWarning(age, maxAge time.Duration) (string, float64) {
	if maxAge <= 0 {
		return "", 0
	}
	ratio := float64(age) / float64(maxAge)
	if ratio < warnRatio {
		return "", ratio
	}
	return fmt.Sprintf("oldest pending event is %.0f%% of stream.max_age (%s of %s): events still in the stream at max_age are removed undelivered",
		100*ratio, age.Round(time.Second), maxAge), ratio
}

// Streams finds a stream by name.
type Streams interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// OldestUnsettled is the age of the oldest event a sink has not settled
// yet (pending or ack-pending): the first message of the events stream
// after the consumer's ack floor that matches one of its filters.
func OldestUnsettled(ctx context.Context, js Streams, stream string, filters []string, info *jetstream.ConsumerInfo) time.Duration {
	if info.NumPending == 0 && info.NumAckPending == 0 {
		return 0
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	var oldest time.Time
	for _, subj := range filters {
		m, err := s.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(subj))
		if err != nil {
			continue
		}
		if oldest.IsZero() || m.Time.Before(oldest) {
			oldest = m.Time
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest)
}

// Consumer is a sink's events consumer, as the Watcher reads it.
type Consumer interface {
	Info(ctx context.Context) (*jetstream.ConsumerInfo, error)
}

// Sink is one running sink, as the Watcher sees it.
type Sink struct {
	Name     string
	Filters  []string // its filter subjects in the events stream
	Consumer Consumer
	// SetRatio sets the sink's oldest-pending gauge, only while the sink
	// still runs: a reload that removed it meanwhile deleted its series.
	SetRatio func(float64)
}

// Sinks is what the Watcher needs of the gateway: its running sinks.
type Sinks interface {
	LimitSinks() []Sink
}

// Watcher sets the limit gauges and logs a warning when a limit is
// crossed (once per crossing, and once when back under), every Interval
// while Run runs.
type Watcher struct {
	JS     Streams
	Stream string        // the events stream
	MaxAge time.Duration // stream.max_age (a reload never changes it)
	Sinks  Sinks
	// Metrics holds the gauges: OldestPendingRatio, StreamBytesRatio.
	Metrics *telemetry.Metrics
	Log     *slog.Logger
}

// Run checks at once and then every Interval, until ctx ends.
func (lw *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	over := map[string]bool{}
	known := map[string]bool{}
	for {
		lw.check(ctx, over, known)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (lw *Watcher) check(ctx context.Context, over, known map[string]bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	crossed := func(key string, now bool) (up, down bool) {
		was := over[key]
		if now {
			over[key] = true
		} else {
			delete(over, key)
		}
		return now && !was, !now && was
	}
	seen := map[string]bool{}
	for _, s := range lw.Sinks.LimitSinks() {
		seen[s.Name] = true
		info, err := s.Consumer.Info(ctx)
		if err != nil {
			continue
		}
		age := OldestUnsettled(ctx, lw.JS, lw.Stream, s.Filters, info)
		msg, ratio := AgeWarning(age, lw.MaxAge)
		s.SetRatio(ratio)
		switch up, down := crossed("sink:"+s.Name, msg != ""); {
		case up:
			lw.Log.Warn("sink falling behind stream.max_age: "+msg, "sink", s.Name, "oldest_pending", age.Round(time.Second), "max_age", lw.MaxAge)
		case down:
			lw.Log.Info("sink back under 80% of stream.max_age", "sink", s.Name, "oldest_pending", age.Round(time.Second))
		}
	}
	for name := range known {
		if !seen[name] {
			lw.Metrics.OldestPendingRatio.DeleteLabelValues(name)
			delete(over, "sink:"+name)
		}
	}
	clear(known)
	for name := range seen {
		known[name] = true
	}

	s, err := lw.JS.Stream(ctx, lw.Stream)
	if err != nil {
		return
	}
	info := s.CachedInfo()
	if info.Config.MaxBytes <= 0 {
		return
	}
	ratio := float64(info.State.Bytes) / float64(info.Config.MaxBytes)
	lw.Metrics.StreamBytesRatio.WithLabelValues(lw.Stream).Set(ratio)
	switch up, down := crossed("stream:"+lw.Stream, ratio >= warnRatio); {
	case up:
		lw.Log.Warn(fmt.Sprintf("events stream is %.0f%% of stream.max_bytes: when full it refuses publishes", 100*ratio),
			"stream", lw.Stream, "bytes", info.State.Bytes, "max_bytes", info.Config.MaxBytes)
	case down:
		lw.Log.Info("events stream back under 80% of stream.max_bytes", "stream", lw.Stream, "bytes", info.State.Bytes)
	}
}
