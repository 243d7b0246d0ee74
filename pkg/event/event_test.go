package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

func TestFromMessage(t *testing.T) {
	published := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		msg     event.Message
		wantID  string
		wantTyp string
		wantT   time.Time
		wantErr bool
	}{
		{"producer id", event.Message{Subject: "events.order.completed", Header: map[string][]string{"Nats-Msg-Id": {"o1"}}, Published: published},
			"o1", "order.completed", published, false},
		{"derived id is stable", event.Message{Subject: "events.user.signup", Stream: "EVENTS", Sequence: 42, Published: published},
			"evt_events_42", "user.signup", published, false},
		{"ce-time wins", event.Message{Subject: "events.a", Header: map[string][]string{"ce-time": {"2025-05-05T05:05:05.5Z"}}, Published: published},
			"evt__0", "a", time.Date(2025, 5, 5, 5, 5, 5, 5e8, time.UTC), false},
		{"redriven keeps identity", event.Message{Subject: "switchyard.redrive.s", Header: map[string][]string{
			"Switchyard-Event-Id": {"orig"}, "Switchyard-Subject": {"events.order.paid"}, "Nats-Msg-Id": {"redrive:DLQ:1"}}, Stream: event.RedriveStream, Published: published},
			"orig", "order.paid", published, false},
		{"bad ce-time", event.Message{Subject: "events.a", Header: map[string][]string{"ce-time": {"yesterday"}}}, "", "", time.Time{}, true},
		{"no type", event.Message{Subject: "events."}, "", "", time.Time{}, true},
		{"outside prefix", event.Message{Subject: "orders.x"}, "", "", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.FromMessage(tt.msg, "events.")
			if tt.wantErr {
				if !errors.Is(err, event.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.wantID || e.Type != tt.wantTyp || !e.Time.Equal(tt.wantT) {
				t.Errorf("got id %q type %q time %s", e.ID, e.Type, e.Time)
			}
		})
	}
}

func TestEnvelope(t *testing.T) {
	tests := []struct {
		data []byte
		want string
	}{
		{[]byte(`{"a": "<b>&"}`), `"data":{"a": "<b>&"}`},
		{[]byte("\xff\x00"), `"data_base64":"/wA=","data_encoding":"base64"`},
		{nil, `"data":null`},
	}
	for _, tt := range tests {
		e := &event.Event{ID: "i", Type: "t", Time: time.Unix(0, 0).UTC(), Data: tt.data}
		b, err := e.MarshalEnvelope()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) || !contains(string(b), tt.want) {
			t.Errorf("envelope %s lacks %s", b, tt.want)
		}
		var env event.Envelope
		_ = json.Unmarshal(b, &env)
		if tt.data != nil && string(env.DecodeData()) != string(tt.data) {
			t.Errorf("round trip: %q", env.DecodeData())
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func ExampleEvent_MarshalEnvelope() {
	e := &event.Event{ID: "evt_1", Type: "order.completed", Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Data: []byte(`{"id":1}`)}
	b, _ := e.MarshalEnvelope()
	fmt.Println(string(b))
	// Output: {"id":"evt_1","type":"order.completed","timestamp":"2026-11-23T10:00:00Z","data":{"id":1}}
}

func TestMatchType(t *testing.T) {
	for _, tt := range []struct {
		filter, typ string
		want        bool
	}{
		{"order.*", "order.created", true}, {"order.*", "order.created.v2", false}, {"order.>", "order.created.v2", true},
		{"order.>", "order", false}, {">", "a", true}, {"*.created", "user.created", true}, {"order.created", "order.created", true},
		{"order.created", "order.paid", false}, {"order", "order.x", false},
	} {
		if got := event.MatchType(tt.filter, tt.typ); got != tt.want {
			t.Errorf("MatchType(%q, %q) = %v", tt.filter, tt.typ, got)
		}
	}
}

func TestTenantComesFromTheSubject(t *testing.T) {
	for _, c := range []struct {
		subject, tenant, typ string
		ok                   bool
	}{
		{"events.order.completed", "", "order.completed", true},
		{"tenants.acme.order.completed", "acme", "order.completed", true},
		{"tenants.acme", "", "", false},
		{"tenants..x", "", "", false},
		{"other.x", "", "", false},
		{"events.", "", "", false},
	} {
		e, err := event.FromMessage(event.Message{Subject: c.subject, Stream: "EVENTS", Sequence: 1}, "events.")
		if (err == nil) != c.ok {
			t.Fatalf("%s: err %v, want ok=%v", c.subject, err, c.ok)
		}
		if err != nil {
			if !errors.Is(err, event.ErrMalformed) {
				t.Fatalf("%s: %v is not ErrMalformed", c.subject, err)
			}
			continue
		}
		if e.Tenant != c.tenant || e.Type != c.typ {
			t.Fatalf("%s: tenant %q type %q, want %q %q", c.subject, e.Tenant, e.Type, c.tenant, c.typ)
		}
		if got := e.Attributes()[event.AttrTenant]; got != c.tenant {
			t.Fatalf("%s: tenant attribute %q", c.subject, got)
		}
	}
}

func BenchmarkAttributes(b *testing.B) {
	e := &event.Event{ID: "evt-1", Type: "order.created", Time: time.Now(), Subject: "events.order.created", ContentType: "application/json"}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Attributes()
	}
}

func TestIDOfIsTheIDFromMessageGives(t *testing.T) {
	for _, h := range []map[string][]string{
		nil,
		{event.HeaderMsgID: {"ord-1"}},
		{event.HeaderMsgID: {"acme/web:ord-1"}, event.HeaderIDScope: {"acme/web:"}},
		{event.HeaderMsgID: {"acme/web:"}, event.HeaderIDScope: {"acme/web:"}},
		{event.HeaderEventID: {"forged"}, event.HeaderMsgID: {"real"}},
		{event.HeaderEventID: {"forged"}},
	} {
		e, err := event.FromMessage(event.Message{Subject: "events.a", Header: h, Stream: "EVENTS", Sequence: 7}, "events.")
		if err != nil {
			t.Fatal(err)
		}
		if got := event.IDOf(h, "EVENTS", 7); got != e.ID {
			t.Errorf("headers %v: IDOf = %q, FromMessage's id = %q", h, got, e.ID)
		}
	}
}
