package eventlog_test

import (
	"errors"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/eventlog"
)

// With the attempt log off, every query says so, never an empty answer
// that reads as "nothing was attempted".
func TestQueriesSayTheLogIsOff(t *testing.T) {
	var e eventlog.Events
	if _, err := e.Attempts(t.Context(), attempts.Query{Sink: "orders"}); !errors.Is(err, eventlog.ErrOff) {
		t.Errorf("Attempts: err = %v, want ErrOff", err)
	}
	if _, err := e.Event(t.Context(), "evt_1"); !errors.Is(err, eventlog.ErrOff) {
		t.Errorf("Event: err = %v, want ErrOff", err)
	}
}
