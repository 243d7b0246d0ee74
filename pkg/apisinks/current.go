package apisinks

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// IsFileIncarnation says whether s is a file sink: its incarnation is
// its name's file one.
func IsFileIncarnation(s config.Sink) bool { return s.Incarnation == FileIncarnation(s.Name) }

// StillCurrent says whether the API sink s is still the one its name
// stands for in the sinks bucket: bus.ErrSinkReplaced when it was deleted
// or created again (another incarnation), even if this replica has not
// applied that change yet. A file sink is its file's as long as it runs.
func (st *Store) StillCurrent(ctx context.Context, s config.Sink) error {
	if s.Incarnation == "" || IsFileIncarnation(s) {
		return nil
	}
	e, err := st.Get(ctx, s.Name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("sink %s was deleted through the API: %w", s.Name, bus.ErrSinkReplaced)
	}
	if err != nil {
		return err
	}
	if e.Err != nil {
		return e.Err
	}
	if e.Rec.Op == OpDelete {
		return fmt.Errorf("sink %s is being deleted through the API: %w", s.Name, bus.ErrSinkReplaced)
	}
	if inc := e.Rec.Incarnation(s.Name); inc != s.Incarnation {
		return fmt.Errorf("sink %s was deleted and created again through the API (incarnation %s, this one %s): %w", s.Name, inc, s.Incarnation, bus.ErrSinkReplaced)
	}
	return nil
}
