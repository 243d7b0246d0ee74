package attempts

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

func embedded(t testing.TB) jetstream.JetStream {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Records are written in batches per bucket, and every query still finds
// exactly its records: by event among the others of its bucket, by sink,
// by time, and records written one a message before batching.
func TestBatchedRecordsAreFoundByEachQuery(t *testing.T) {
	js := embedded(t)
	ctx := context.Background()
	l := &Log{JS: js, FlushEvery: 20 * time.Millisecond, MaxBatch: 50}
	if err := l.Ensure(ctx, time.Hour, 64<<20, 1); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-time.Second) // records are written after their attempts
	for i := 0; i < 300; i++ {
		sink := "a"
		if i%3 == 0 {
			sink = "b"
		}
		r := Record{EventID: fmt.Sprintf("e%d", i), Sink: sink, Type: "order.created", Attempt: 1,
			Time: t0.Add(time.Duration(i) * time.Millisecond), Outcome: "delivered", Status: 200}
		if err := l.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	// One record as the log wrote it before batching.
	legacy, _ := json.Marshal(Record{EventID: "old", Sink: "a", Type: "order.created", Attempt: 2, Time: t0, Outcome: "retried", Status: 500})
	if _, err := js.Publish(ctx, legacySubject("a", "old"), legacy); err != nil {
		t.Fatal(err)
	}
	l.Close()
	<-js.PublishAsyncComplete()

	cases := []struct {
		name string
		q    Query
		want int
	}{
		{"all", Query{}, 301},
		{"sink a", Query{Sink: "a"}, 201},
		{"one event", Query{EventID: "e7"}, 1},
		{"one event in its sink", Query{Sink: "a", EventID: "e7"}, 1},
		{"event in another sink", Query{Sink: "b", EventID: "e7"}, 0},
		{"legacy record", Query{EventID: "old"}, 1},
		{"status", Query{Status: 500}, 1},
		{"time range", Query{Since: t0.Add(100 * time.Millisecond), Until: t0.Add(200 * time.Millisecond)}, 100},
		{"limit", Query{Sink: "a", Limit: 7}, 7},
		// A sink's name is a name: a wildcard in it selects no sink.
		{"sink *", Query{Sink: "*"}, 0},
		{"sink >", Query{Sink: ">"}, 0},
		{"sink a.>", Query{Sink: "a.>"}, 0},
		{"event in sink *", Query{Sink: "*", EventID: "e7"}, 0},
	}
	for _, c := range cases {
		got, err := l.Find(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.want {
			t.Errorf("%s: %d records, want %d", c.name, len(got), c.want)
		}
		if c.q.EventID != "" {
			for _, r := range got {
				if r.EventID != c.q.EventID {
					t.Errorf("%s: got a record of %s", c.name, r.EventID)
				}
			}
		}
	}
	if err := l.Record(Record{EventID: "late", Sink: "a"}); err == nil {
		t.Error("a record after Close was taken")
	}
}

// A batch that fills goes out at once, without waiting for the flush.
func TestFullBatchGoesOutWithoutTheTimer(t *testing.T) {
	js := embedded(t)
	ctx := context.Background()
	l := &Log{JS: js, FlushEvery: time.Hour, MaxBatch: 10}
	if err := l.Ensure(ctx, time.Hour, 64<<20, 1); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 10; i++ {
		// The same event id: one bucket, so the tenth record fills it.
		if err := l.Record(Record{EventID: "same", Sink: "a", Attempt: i + 1, Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	got, err := l.Find(ctx, Query{EventID: "same"})
	if err != nil || len(got) != 10 {
		t.Fatalf("%d records (%v), want 10 without a flush", len(got), err)
	}
}

// The bucket is FNV-1a of the id mod Buckets, as two hex digits (checked
// against hash/fnv): the layout on disk must not change between versions,
// or lookups miss older records.
func TestBucketIsStable(t *testing.T) {
	for _, id := range []string{"", "e7", "msg_p5jXN8AQM9LWM0D4loKWxJek", "ünï"} {
		h := fnv.New32a()
		h.Write([]byte(id))
		if got, want := bucket(id), fmt.Sprintf("%02x", h.Sum32()%Buckets); got != want {
			t.Errorf("bucket(%q) = %q, want %q", id, got, want)
		}
	}
}

// BenchmarkLogRecord is the attempt log's cost per delivery: a record
// appended to its bucket's batch, and its share of the batch's publish.
func BenchmarkLogRecord(b *testing.B) {
	js := embedded(b)
	l := &Log{JS: js}
	if err := l.Ensure(context.Background(), time.Hour, 256<<20, 1); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = fmt.Sprintf("evt_%d", i)
	}
	rec := Record{Sink: "orders", Type: "order.created", Attempt: 1, Time: time.Now().UTC(), DurationMS: 1.25, Outcome: "delivered", Status: 200, Stream: "EVENTS", StreamSeq: 42}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		rec.EventID = ids[i%len(ids)]
		i++
		if err := l.Record(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// A busy log (many batches waiting) holds small batches for more records,
// up to busyMaxWait; a quiet one publishes every batch at the next flush.
// The flushes are called here (the log's own ticker never fires), so the
// test does not depend on how fast the records go in.
func TestBusyLogHoldsSmallBatches(t *testing.T) {
	js := embedded(t)
	ctx := context.Background()
	l := &Log{JS: js, FlushEvery: time.Hour}
	if err := l.Ensure(ctx, time.Hour, 64<<20, 1); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msgs := func(s jetstream.Stream) uint64 {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	published := func(want uint64) {
		t.Helper()
		s, err := js.Stream(ctx, StreamName)
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		if !testutil.Poll(5*time.Second, func() bool { got = msgs(s); return got == want }) {
			t.Fatalf("%d messages in the log, want %d", got, want)
		}
	}
	record := func(sink string) {
		if err := l.Record(Record{EventID: "e-" + sink, Sink: sink, Type: "t", Attempt: 1, Time: time.Now().UTC(), Outcome: "delivered"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		record(fmt.Sprintf("quiet%d", i))
	}
	l.flush(false)
	published(3) // quiet: every batch at once

	const busy = busyBatches + 8
	for i := range busy {
		record(fmt.Sprintf("busy%d", i))
	}
	l.flush(false)
	// busy: small, young batches wait. A batch the flush sent would be in
	// the stream within milliseconds; 100ms of three shows none was.
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Holds(t, 100*time.Millisecond, "the busy batches held back", func() bool { return msgs(s) == 3 })
	published(3)
	for i := range l.shards {
		for _, b := range l.shards[i].pending {
			b.since = b.since.Add(-busyMaxWait)
		}
	}
	l.flush(false)
	published(3 + busy) // and go once they have waited busyMaxWait
}

// A query for one incarnation of a sink shows its records and those
// written before incarnations, never another incarnation's.
func TestQueryByIncarnation(t *testing.T) {
	js := embedded(t)
	ctx := context.Background()
	l := &Log{JS: js, FlushEvery: 20 * time.Millisecond}
	if err := l.Ensure(ctx, time.Hour, 64<<20, 1); err != nil {
		t.Fatal(err)
	}
	for i, inc := range []string{"api-old", "api-old", "", "api-new"} {
		if err := l.Record(Record{EventID: fmt.Sprintf("e%d", i), Sink: "x", Incarnation: inc, Time: time.Now().UTC(), Outcome: "delivered"}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	<-js.PublishAsyncComplete()
	for q, want := range map[string]string{"api-new": "e2 e3", "api-old": "e0 e1 e2", "": "e0 e1 e2 e3"} {
		got, err := l.Find(ctx, Query{Sink: "x", Incarnation: q})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.EventID)
		}
		sort.Strings(ids)
		if strings.Join(ids, " ") != want {
			t.Errorf("incarnation %q: %v, want %s", q, ids, want)
		}
	}
}
