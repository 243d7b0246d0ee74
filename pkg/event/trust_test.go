package event_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Switchyard-Subject and Switchyard-Event-Id are Switchyard's own
// bookkeeping: a producer that sets them on the events stream must not
// change the type or id its event is delivered under.
func TestIdentityHeadersTrustedOnlyOnRedriveStream(t *testing.T) {
	forged := func(extra map[string][]string) map[string][]string {
		h := map[string][]string{
			event.HeaderOrigSubject: {"events.billing.refund"},
			event.HeaderEventID:     {"evt_forged"},
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	tests := []struct {
		name     string
		msg      event.Message
		wantID   string
		wantType string
	}{
		{"events stream ignores forged headers",
			event.Message{Subject: "events.public.ping", Stream: "EVENTS", Sequence: 7, Header: forged(nil)},
			"evt_events_7", "public.ping"},
		{"events stream keeps the producer's Nats-Msg-Id",
			event.Message{Subject: "events.public.ping", Stream: "EVENTS", Sequence: 7, Header: forged(map[string][]string{event.HeaderMsgID: {"p1"}})},
			"p1", "public.ping"},
		{"no stream (not JetStream) ignores them too",
			event.Message{Subject: "events.public.ping", Header: forged(nil)},
			"evt__0", "public.ping"},
		{"a stream named like the redrive one in another case is not it",
			event.Message{Subject: "events.public.ping", Stream: "switchyard_redrive", Header: forged(nil)},
			"evt_switchyard_redrive_0", "public.ping"},
		{"redrive stream restores the identity Switchyard wrote",
			event.Message{Subject: "switchyard.redrive.s", Stream: event.RedriveStream, Sequence: 3, Header: forged(map[string][]string{event.HeaderMsgID: {"redrive:DLQ:1"}})},
			"evt_forged", "billing.refund"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.FromMessage(tt.msg, "events.")
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.wantID || e.Type != tt.wantType {
				t.Errorf("got id %q type %q, want id %q type %q", e.ID, e.Type, tt.wantID, tt.wantType)
			}
			if tt.msg.Stream != event.RedriveStream {
				for _, k := range []string{event.HeaderOrigSubject, event.HeaderEventID} {
					if _, ok := e.Headers[k]; ok {
						t.Errorf("event headers still carry the untrusted %s", k)
					}
				}
				if _, ok := tt.msg.Header[event.HeaderOrigSubject]; !ok {
					t.Errorf("FromMessage changed the message's own headers")
				}
			}
		})
	}
}
