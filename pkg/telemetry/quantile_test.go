package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A quantile interpolates inside its bucket; an empty histogram reads 0,
// and one past the last bound reads that bound, a floor.
func TestQuantile(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Buckets: []float64{1, 2, 4}})
	if got := Quantile(h, 0.99); got != 0 {
		t.Fatalf("empty: %v", got)
	}
	for _, v := range []float64{0.5, 1.5, 1.5, 3} {
		h.Observe(v)
	}
	// Rank 2 of 4 is halfway through the (1, 2] bucket's two samples.
	if got := Quantile(h, 0.5); got != 1500*time.Millisecond {
		t.Errorf("p50 = %v, want 1.5s", got)
	}
	if got := Quantile(h, 1); got != 4*time.Second {
		t.Errorf("p100 = %v, want 4s", got)
	}
	h.Observe(10)
	if got := Quantile(h, 1); got != 4*time.Second {
		t.Errorf("p100 past the last bucket = %v, want its bound, 4s", got)
	}
}
