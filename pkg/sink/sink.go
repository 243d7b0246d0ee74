// Package sink defines what a destination driver is: a small, batch-first
// interface, the classes of failure the dispatcher settles by, and the
// registry of sink kinds. It never imports a driver.
package sink

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Driver delivers batches of events to one destination. A driver does not
// retry: it reports what happened, classified with the helpers in this
// package, and the dispatcher decides through JetStream redelivery.
type Driver interface {
	// Send delivers the batch. On partial failure it returns a *BatchError
	// naming the failed indexes; the others count as delivered.
	Send(ctx context.Context, batch []*event.Event) error
	// Close releases the driver's resources. It is idempotent and safe to
	// call while Send runs; later Sends fail with a Canceled error.
	Close(ctx context.Context) error
}

// Limits is what a driver can take in one Send.
type Limits struct {
	MaxBatch int // events per Send; 1 for webhooks
}

// Limited is implemented by drivers that take more than one event a Send.
type Limited interface {
	Limits() Limits
}

// LimitsOf returns the driver's limits, defaulting to batches of one.
func LimitsOf(d Driver) Limits {
	if l, ok := d.(Limited); ok {
		lim := l.Limits()
		if lim.MaxBatch < 1 {
			lim.MaxBatch = 1
		}
		return lim
	}
	return Limits{MaxBatch: 1}
}

// BatchSize is the batch a sink uses: what the config asks for, capped at
// the driver's limit; the driver's limit when the config says nothing.
func BatchSize(d Driver, configured int) int {
	limit := LimitsOf(d).MaxBatch
	if configured > 0 && configured < limit {
		return configured
	}
	return limit
}

// Ordered is implemented by drivers that publish with ordering keys (such
// as Pub/Sub's). When Ordering reports true, the dispatcher keeps at most
// one event of a key in flight and retries a failed event before any later
// event of its key is sent.
type Ordered interface {
	Ordering() bool
	// OrderingKey is the event's key; "" puts the event in no order.
	OrderingKey(*event.Event) string
}
