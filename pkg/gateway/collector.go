package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// consumerCollector reads each sink's consumer state from JetStream at
// scrape time, so the gauges are never staler than the scrape itself.
type consumerCollector struct {
	g                            *Gateway
	pending, ackPending, redeliv *prometheus.Desc
}

func newConsumerCollector(g *Gateway) *consumerCollector {
	return &consumerCollector{
		g:          g,
		pending:    prometheus.NewDesc("switchyard_consumer_pending", "Events in the stream not yet delivered to the sink.", []string{"sink"}, nil),
		ackPending: prometheus.NewDesc("switchyard_consumer_ack_pending", "Events delivered to the gateway and not yet settled.", []string{"sink"}, nil),
		redeliv:    prometheus.NewDesc("switchyard_consumer_redelivered", "Events waiting for a retry.", []string{"sink"}, nil),
	}
}

func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.ackPending
	ch <- c.redeliv
}

func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, rs := range c.g.sinkList() {
		info, err := rs.consumer.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), rs.cfg.Name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), rs.cfg.Name)
		ch <- prometheus.MustNewConstMetric(c.redeliv, prometheus.GaugeValue, float64(info.NumRedelivered), rs.cfg.Name)
	}
}
