package gateway

import (
	"context"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// oldestUnsettled is the age of the oldest event the sink has not settled
// yet (pending or ack-pending): the first message after the consumer's ack
// floor that matches one of its filters.
func (g *Gateway) oldestUnsettled(ctx context.Context, rs *runningSink, info *jetstream.ConsumerInfo) time.Duration {
	if info.NumPending == 0 && info.NumAckPending == 0 {
		return 0
	}
	stream, err := g.bus.JS.Stream(ctx, g.cfg.Stream.Name)
	if err != nil {
		return 0
	}
	var oldest time.Time
	for _, subj := range rs.cfg.FilterSubjects() {
		m, err := stream.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(subj))
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

// quantile reads a quantile of one sink's event-latency histogram (since
// the gateway started), interpolating inside the bucket.
func quantile(h prometheus.Observer, q float64) time.Duration {
	m, ok := h.(prometheus.Metric)
	if !ok {
		return 0
	}
	var out dto.Metric
	if m.Write(&out) != nil || out.Histogram == nil || out.Histogram.GetSampleCount() == 0 {
		return 0
	}
	rank := q * float64(out.Histogram.GetSampleCount())
	prevBound, prevCount := 0.0, 0.0
	for _, b := range out.Histogram.Bucket {
		count := float64(b.GetCumulativeCount())
		if count >= rank {
			bound := b.GetUpperBound()
			if count == prevCount {
				return seconds(bound)
			}
			return seconds(prevBound + (bound-prevBound)*(rank-prevCount)/(count-prevCount))
		}
		prevBound, prevCount = b.GetUpperBound(), count
	}
	return seconds(prevBound) // beyond the last bucket: its bound is a floor
}

func seconds(s float64) time.Duration {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
