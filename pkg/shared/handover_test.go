package shared_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/shared"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// HandOver moves a dedicated consumer's backlog — events never
// delivered, and events waiting out a retry — to records with the
// matchers' headers and the attempts made so far; an event the matchers
// handed on too (after the bound, or before it by a replica whose bound
// was lower) makes one record, and a second run makes none.
func TestHandOverMovesTheBacklogOnceWithItsAttempts(t *testing.T) {
	ctx := context.Background()
	js := testutil.StartJetStream(t, nil)
	_, cfg := testutil.OpenBus(t, js, nil)
	const inc = "api-moved"
	c, err := js.JS.CreateOrUpdateConsumer(ctx, cfg.Stream.Name, jetstream.ConsumerConfig{
		Durable: "moved", FilterSubject: "events.>", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		publish(t, js, "events.order.created", "e"+strconv.Itoa(i))
	}
	// e1, e2 delivered and acked; e3..e5 failed once and wait 2 s for
	// their retry; e6..e10 never delivered.
	b, err := c.Fetch(5, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range b.Messages() {
		n++
		if n <= 2 {
			_ = m.DoubleAck(ctx)
		} else {
			_ = m.NakWithDelay(2 * time.Second)
		}
	}
	if n != 5 {
		t.Fatalf("fetched %d, want 5", n)
	}
	upTo := uint64(10)
	// Published after the move.
	publish(t, js, "events.order.created", "e11")
	publish(t, js, "events.order.created", "e12")
	// The matchers handed e10 (another replica's, with a lower bound)
	// and e11 on as well.
	for _, seq := range []string{"10", "11"} {
		matcherRecord := &nats.Msg{Subject: subject.Due(inc), Header: nats.Header{}, Data: []byte(`{"n":1}`)}
		matcherRecord.Header.Set(event.HeaderMsgID, inc+":"+seq)
		matcherRecord.Header.Set(event.HeaderEventID, "e"+seq)
		if _, err := js.JS.PublishMsg(ctx, matcherRecord); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	made, err := shared.HandOver(ctx, js.JS, c, inc, upTo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if made != 8 {
		t.Errorf("made %d records, want 8 (e3..e9, e12; e10 and e11 were made)", made)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("returned after %s: the retries were handed on before their delay was over", took)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 {
		t.Errorf("consumer still holds %d pending, %d unacked", info.NumPending, info.NumAckPending)
	}
	again, err := shared.HandOver(ctx, js.JS, c, inc, upTo, nil)
	if err != nil || again != 0 {
		t.Errorf("second run: %d records, %v", again, err)
	}

	st, err := js.JS.Stream(ctx, event.DeliveriesStream)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	attempts := map[string]string{}
	for seq := sinfo.State.FirstSeq; seq <= sinfo.State.LastSeq; seq++ {
		raw, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		if raw.Subject != subject.Due(inc) {
			t.Errorf("record on %s", raw.Subject)
		}
		id := raw.Header.Get(event.HeaderEventID)
		ids[id]++
		attempts[id] = raw.Header.Get(shared.HeaderAttempts)
		if id != "e10" && id != "e11" && (raw.Header.Get(event.HeaderOrigSubject) != "events.order.created" || raw.Header.Get(shared.HeaderPublished) == "") {
			t.Errorf("record of %s lacks the matchers' headers: %v", id, raw.Header)
		}
	}
	for i := 1; i <= 12; i++ {
		id := "e" + strconv.Itoa(i)
		want := 0
		if i >= 3 {
			want = 1
		}
		if ids[id] != want {
			t.Errorf("%s: %d records, want %d", id, ids[id], want)
		}
		wantAttempts := ""
		if i >= 3 && i <= 5 {
			wantAttempts = "1"
		}
		if i < 10 && attempts[id] != wantAttempts {
			t.Errorf("%s: %s %q, want %q", id, shared.HeaderAttempts, attempts[id], wantAttempts)
		}
	}
}

// PutAfter and Cut bound what the matchers hand on to a moved sink, and
// a later Put of new filters keeps the bounds.
func TestIndexBoundsOfAMovedSink(t *testing.T) {
	idx := shared.NewIndex()
	if seq, err := idx.PutAfter("in", []string{"events.>"}, func() (uint64, error) { return 7, nil }); err != nil || seq != 7 {
		t.Fatalf("PutAfter: %d, %v", seq, err)
	}
	_ = idx.Put("out", []string{"events.>"})
	if seq, err := idx.Cut("out", func() (uint64, error) { return 9, nil }); err != nil || seq != 9 {
		t.Fatalf("Cut: %d, %v", seq, err)
	}
	_ = idx.Put("in", []string{"events.order.>"})
	for _, tc := range []struct {
		seq  uint64
		want string
	}{{7, "out"}, {8, "in out"}, {9, "in out"}, {10, "in"}} {
		got := idx.Match("events.order.x", tc.seq, nil)
		slices.Sort(got)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("at %d: %v, want %q", tc.seq, got, tc.want)
		}
	}
}
