package deadletter

import "context"

// Desk is the admin API's dead-letter role: the store's records of the
// sinks Known accepts. A sink this replica does not know gets Known's
// error (gatewayapi.ErrUnknownSink from the gateway), not an empty list:
// a typo is not a sink without dead letters.
type Desk struct {
	Store *Store
	Known func(sink string) error
}

// DeadLetters lists the records of sink that f selects.
func (d Desk) DeadLetters(ctx context.Context, sink string, f Filter) ([]Record, error) {
	if err := d.Known(sink); err != nil {
		return nil, err
	}
	return d.Store.List(ctx, sink, f)
}

// Redrive sends the records of sink that f selects back to it.
func (d Desk) Redrive(ctx context.Context, sink string, f Filter) (int, error) {
	if err := d.Known(sink); err != nil {
		return 0, err
	}
	return d.Store.Redrive(ctx, sink, f)
}

// PurgeDeadLetters deletes the records of sink that f selects.
func (d Desk) PurgeDeadLetters(ctx context.Context, sink string, f Filter) (int, error) {
	if err := d.Known(sink); err != nil {
		return 0, err
	}
	return d.Store.Purge(ctx, sink, f)
}
