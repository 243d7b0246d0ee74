package deadletter

import "context"

// Desk is the admin API's dead-letter role: the store's records of the
// sinks Known accepts. A sink this replica does not know gets Known's
// error (gatewayapi.ErrUnknownSink from the gateway), not an empty list:
// a typo is not a sink without dead letters. Known also says where the
// sink's redriven dead letters go: a shared sink has no redrive consumer.
type Desk struct {
	Store *Store
	Known func(sink string) (Route, error)
}

// DeadLetters lists the records of sink that f selects.
func (d Desk) DeadLetters(ctx context.Context, sink string, f Filter) ([]Record, error) {
	if _, err := d.Known(sink); err != nil {
		return nil, err
	}
	return d.Store.List(ctx, sink, f)
}

// Redrive sends the records of sink that f selects back to it.
func (d Desk) Redrive(ctx context.Context, sink string, f Filter) (int, error) {
	to, err := d.Known(sink)
	if err != nil {
		return 0, err
	}
	return d.Store.Redrive(ctx, sink, to, f)
}

// PurgeDeadLetters deletes the records of sink that f selects.
func (d Desk) PurgeDeadLetters(ctx context.Context, sink string, f Filter) (int, error) {
	if _, err := d.Known(sink); err != nil {
		return 0, err
	}
	return d.Store.Purge(ctx, sink, f)
}
