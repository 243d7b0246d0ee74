package bench

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// scriptedIterator answers Next from a script of errors, then with msg.
type scriptedIterator struct {
	errs []error
	msg  jetstream.Msg
}

func (s *scriptedIterator) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return nil, err
	}
	return s.msg, nil
}
func (s *scriptedIterator) Stop()  {}
func (s *scriptedIterator) Drain() {}

// A pull that went unanswered does not end the bare loop (it did, and a
// CI run's bare drain stalled at 443 of 600 deliveries); a stopped
// iterator or a lost consumer does.
func TestNextMsgGoesOnAfterAnUnansweredPull(t *testing.T) {
	var msg jetstream.Msg // a nil Msg is enough to tell "a message" from "none"
	for _, tc := range []struct {
		name       string
		errs       []error
		wantMsg    bool
		wantStalls int64
	}{
		{"a message", nil, true, 0},
		{"no heartbeat, then a message", []error{jetstream.ErrNoHeartbeat, jetstream.ErrNoHeartbeat}, true, 2},
		{"wrapped no heartbeat", []error{fmt.Errorf("pull: %w", jetstream.ErrNoHeartbeat)}, true, 1},
		{"stopped", []error{jetstream.ErrMsgIteratorClosed}, false, 0},
		{"no heartbeat, then stopped", []error{jetstream.ErrNoHeartbeat, jetstream.ErrMsgIteratorClosed}, false, 1},
		{"consumer deleted", []error{jetstream.ErrConsumerDeleted}, false, 0},
		{"anything else", []error{errors.New("connection closed")}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stalls atomic.Int64
			it := &scriptedIterator{errs: tc.errs, msg: msg}
			_, ok := nextMsg(it, &stalls)
			if ok != tc.wantMsg || stalls.Load() != tc.wantStalls {
				t.Errorf("got a message %v after %d stalls, want %v after %d", ok, stalls.Load(), tc.wantMsg, tc.wantStalls)
			}
			if len(it.errs) != 0 {
				t.Errorf("%d scripted answers left unread", len(it.errs))
			}
		})
	}
}
