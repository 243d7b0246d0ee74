package sink

import "context"

// Observer receives what a destination answered for the event at index i
// of a batch: its status code (0 when it has none) and the start of the
// response body. Drivers that can tell report through Observe; the
// dispatcher records it in the attempt log.
type Observer func(i, status int, body []byte)

type observerKey struct{}

// WithObserver returns a context whose Sends report to o.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// Observe reports an answer to the context's observer, if any.
func Observe(ctx context.Context, i, status int, body []byte) {
	if o, ok := ctx.Value(observerKey{}).(Observer); ok && o != nil {
		o(i, status, body)
	}
}
