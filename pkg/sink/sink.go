// Package sink defines what a destination driver is: a small, batch-first
// interface (Driver), the classes of failure the dispatcher settles by
// (Class, Classify, BatchError), what every driver shares (Lifecycle: the
// per-send timeout and Close; Observer: what a destination answered), the
// event templates drivers render (Template), and the registry of sink kinds
// (Spec, Registry) with the capabilities a kind may declare. It never
// imports a driver.
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

// Ordered is implemented by drivers that publish with ordering keys (such
// as Pub/Sub's). When Ordering reports true, the dispatcher keeps at most
// one event of a key in flight and retries a failed event before any later
// event of its key is sent.
type Ordered interface {
	Ordering() bool
	// OrderingKey is the event's key; "" puts the event in no order.
	OrderingKey(*event.Event) string
}
