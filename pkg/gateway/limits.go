package gateway

import (
	"context"
	"fmt"
	"time"
)

// Warnings start at this fraction of a limit: a sink's oldest pending
// event at 80% of stream.max_age, the events stream at 80% of max_bytes.
const warnRatio = 0.8

// limitsInterval is how often the gateway checks its sinks' backlogs
// against stream.max_age and the events stream against its max_bytes.
var limitsInterval = 15 * time.Second

// ageWarning is a sink's warning when its oldest unsettled event has been
// in the stream most of stream.max_age, and the fraction of it.
func (g *Gateway) ageWarning(age time.Duration) (string, float64) {
	maxAge := g.cfg.Stream.MaxAge.D // a reload never changes it
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

// watchLimits sets the limit gauges and logs a warning when a limit is
// crossed (once per crossing, and once when back under), until ctx ends.
func (g *Gateway) watchLimits(ctx context.Context) {
	t := time.NewTicker(limitsInterval)
	defer t.Stop()
	over := map[string]bool{}
	known := map[string]bool{}
	for {
		g.checkLimits(ctx, over, known)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) checkLimits(ctx context.Context, over, known map[string]bool) {
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
	for _, rs := range g.sinkList() {
		name := rs.cfg.Name
		seen[name] = true
		info, err := rs.consumer.Info(ctx)
		if err != nil {
			continue
		}
		age := g.oldestUnsettled(ctx, rs, info)
		msg, ratio := g.ageWarning(age)
		// Only while it runs: a reload that removed it meanwhile has
		// deleted its series (ForgetSink, after the swap under g.mu).
		g.mu.RLock()
		if g.byName[name] == rs {
			g.metrics.OldestPendingRatio.WithLabelValues(name).Set(ratio)
		}
		g.mu.RUnlock()
		switch up, down := crossed("sink:"+name, msg != ""); {
		case up:
			g.log.Warn("sink falling behind stream.max_age: "+msg, "sink", name, "oldest_pending", age.Round(time.Second), "max_age", g.cfg.Stream.MaxAge.D)
		case down:
			g.log.Info("sink back under 80% of stream.max_age", "sink", name, "oldest_pending", age.Round(time.Second))
		}
	}
	for name := range known {
		if !seen[name] {
			g.metrics.OldestPendingRatio.DeleteLabelValues(name)
			delete(over, "sink:"+name)
		}
	}
	clear(known)
	for name := range seen {
		known[name] = true
	}

	stream := g.cfg.Stream.Name
	s, err := g.bus.JS.Stream(ctx, stream)
	if err != nil {
		return
	}
	info := s.CachedInfo()
	if info.Config.MaxBytes <= 0 {
		return
	}
	ratio := float64(info.State.Bytes) / float64(info.Config.MaxBytes)
	g.metrics.StreamBytesRatio.WithLabelValues(stream).Set(ratio)
	switch up, down := crossed("stream:"+stream, ratio >= warnRatio); {
	case up:
		g.log.Warn(fmt.Sprintf("events stream is %.0f%% of stream.max_bytes: when full it refuses publishes", 100*ratio),
			"stream", stream, "bytes", info.State.Bytes, "max_bytes", info.Config.MaxBytes)
	case down:
		g.log.Info("events stream back under 80% of stream.max_bytes", "stream", stream, "bytes", info.State.Bytes)
	}
}
