package limits

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector reads each sink's consumer state from JetStream at scrape
// time, so the backlog gauges are never staler than the scrape itself.
type Collector struct {
	sinks                        Sinks
	pending, ackPending, redeliv *prometheus.Desc
}

// NewCollector is the backlog gauges of sinks, for a metrics registry.
func NewCollector(sinks Sinks) *Collector {
	return &Collector{
		sinks:      sinks,
		pending:    prometheus.NewDesc("switchyard_consumer_pending", "Events in the stream not yet delivered to the sink.", []string{"sink"}, nil),
		ackPending: prometheus.NewDesc("switchyard_consumer_ack_pending", "Events delivered to the gateway and not yet settled.", []string{"sink"}, nil),
		redeliv:    prometheus.NewDesc("switchyard_consumer_redelivered", "Events waiting for a retry.", []string{"sink"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redeliv
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range c.sinks.LimitSinks() {
		info, err := s.Consumer.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), s.Name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), s.Name)
		ch <- prometheus.MustNewConstMetric(c.redeliv, prometheus.GaugeValue, float64(info.NumRedelivered), s.Name)
	}
}
