package sink

import (
	"context"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Observer receives what a destination answered for the event at index i
// of a batch: its status code (0 when it has none) and the start of the
// response body. The dispatcher records it in the attempt log.
type Observer func(i, status int, body []byte)

// ObservedSender is implemented by drivers that can tell what the
// destination answered to each event (a webhook's status and body).
type ObservedSender interface {
	SendObserved(ctx context.Context, batch []*event.Event, observe Observer) error
}

// SendObserved sends the batch through d, reporting the destination's
// answers to observe when d can tell them.
func SendObserved(ctx context.Context, d Driver, batch []*event.Event, observe Observer) error {
	if o, ok := d.(ObservedSender); ok && observe != nil {
		return o.SendObserved(ctx, batch, observe)
	}
	return d.Send(ctx, batch)
}
