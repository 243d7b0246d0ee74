package dispatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// replyMsg is a message with only a reply subject: what metadataInto reads.
type replyMsg struct {
	jetstream.Msg
	reply string
}

func (m replyMsg) Reply() string { return m.reply }

func (m replyMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return nil, fmt.Errorf("not an ack subject: %q", m.reply)
}

// metadataInto reads what nats.go's Metadata reads, from messages a real
// server delivered (including redeliveries) and from both subject forms.
func TestMetadataIntoAgreesWithNATS(t *testing.T) {
	js := testutil.StartJetStream(t, nil).JS
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "META", Subjects: []string{"meta.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := js.Publish(ctx, fmt.Sprintf("meta.%d", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := js.CreateConsumer(ctx, "META", jetstream.ConsumerConfig{Durable: "m", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second round is redeliveries
		batch, err := c.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			want, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			var got jetstream.MsgMetadata
			if err := metadataInto(m, &got); err != nil {
				t.Fatal(err)
			}
			if got != *want {
				t.Errorf("round %d, %s:\n got %+v\nwant %+v", round, m.Reply(), got, *want)
			}
			if round == 0 {
				_ = m.Nak()
			} else {
				_ = m.Ack()
			}
		}
		if n != 5 {
			t.Fatalf("round %d: %d messages, want 5", round, n)
		}
	}

	ts := time.Date(2026, 12, 1, 3, 0, 0, 7, time.UTC)
	for _, tc := range []struct {
		reply string
		want  jetstream.MsgMetadata
	}{
		{fmt.Sprintf("$JS.ACK.ORDERS.sink.3.42.40.%d.9", ts.UnixNano()), jetstream.MsgMetadata{
			Sequence: jetstream.SequencePair{Stream: 42, Consumer: 40}, NumDelivered: 3, NumPending: 9, Timestamp: time.Unix(0, ts.UnixNano()), Stream: "ORDERS", Consumer: "sink"}},
		{fmt.Sprintf("$JS.ACK._.ACCHASH.ORDERS.sink.1.7.7.%d.0.rnd", ts.UnixNano()), jetstream.MsgMetadata{
			Sequence: jetstream.SequencePair{Stream: 7, Consumer: 7}, NumDelivered: 1, Timestamp: time.Unix(0, ts.UnixNano()), Stream: "ORDERS", Consumer: "sink"}},
		{fmt.Sprintf("$JS.ACK.hub.ACCHASH.ORDERS.sink.1.7.7.%d.0", ts.UnixNano()), jetstream.MsgMetadata{
			Sequence: jetstream.SequencePair{Stream: 7, Consumer: 7}, NumDelivered: 1, Timestamp: time.Unix(0, ts.UnixNano()), Stream: "ORDERS", Consumer: "sink", Domain: "hub"}},
	} {
		var got jetstream.MsgMetadata
		if err := metadataInto(replyMsg{reply: tc.reply}, &got); err != nil || got != tc.want {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", tc.reply, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "_INBOX.x", "$JS.ACK.ORDERS.sink.1.2.3", "$JS.ACK.a.b.c.d.e.f.g.h"} {
		var got jetstream.MsgMetadata
		if err := metadataInto(replyMsg{reply: bad}, &got); err == nil {
			t.Errorf("%q: no error, metadata %+v", bad, got)
		}
	}
}

func BenchmarkMetadata(b *testing.B) {
	m := replyMsg{reply: "$JS.ACK._.ACCHASH.EVENTS.sink.1.123456.123450.1796000000000000000.17.rnd"}
	var meta jetstream.MsgMetadata
	b.ReportAllocs()
	for b.Loop() {
		if err := metadataInto(m, &meta); err != nil {
			b.Fatal(err)
		}
	}
}
