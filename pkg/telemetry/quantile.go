package telemetry

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Quantile reads quantile q of a histogram (one sink's event latency,
// since the gateway started), interpolating inside the bucket; 0 when it
// has no samples.
func Quantile(h prometheus.Observer, q float64) time.Duration {
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
