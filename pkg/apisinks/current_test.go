package apisinks

import (
	"errors"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

// An API sink is current while the bucket's latest record of its name is
// its incarnation's, and not once it is deleted or created again.
func TestStillCurrent(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	if err := s.StillCurrent(ctx, config.Sink{Name: "f", Incarnation: FileIncarnation("f")}); err != nil {
		t.Fatalf("a file sink: %v", err)
	}
	first := NewIncarnation()
	rev, err := s.Create(ctx, "a", Record{Spec: spec("a"), Op: "create", IncarnationID: first})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StillCurrent(ctx, config.Sink{Name: "a", Incarnation: first}); err != nil {
		t.Fatalf("the current incarnation: %v", err)
	}
	if err := s.StillCurrent(ctx, config.Sink{Name: "a", Incarnation: NewIncarnation()}); !errors.Is(err, bus.ErrSinkReplaced) {
		t.Fatalf("another incarnation: %v, want ErrSinkReplaced", err)
	}
	if err := s.Delete(ctx, Entry{Name: "a", Rec: Record{Spec: spec("a"), IncarnationID: first}, Rev: rev}, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.StillCurrent(ctx, config.Sink{Name: "a", Incarnation: first}); !errors.Is(err, bus.ErrSinkReplaced) {
		t.Fatalf("a deleted sink: %v, want ErrSinkReplaced", err)
	}
}
