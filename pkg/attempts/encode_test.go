package attempts

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// What appendJSON writes reads back, through encoding/json, as the record
// it was, whatever the strings hold.
func TestRecordJSONRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	str := func() string {
		b := make([]byte, r.IntN(30))
		for i := range b {
			b[i] = byte(r.IntN(128)) // valid UTF-8: invalid bytes come back as U+FFFD by design
		}
		return string(b)
	}
	recs := []Record{
		{},
		{EventID: "evt_1", Sink: "s", Type: "order.created", Attempt: 3, Time: time.Date(2026, 11, 30, 22, 0, 0, 5, time.UTC),
			DurationMS: 12.345, Outcome: "retried", Status: 503, Error: `"quoted" <html> & \ back`, Response: "line\nnext\u2028", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Stream: "EVENTS", StreamSeq: 1 << 40},
		{DurationMS: 1e-7, Time: time.Unix(0, 0).UTC()},
		{DurationMS: 3e21, Time: time.Unix(1, 0).UTC()},
	}
	for i := 0; i < 500; i++ {
		recs = append(recs, Record{EventID: str(), Sink: str(), Type: str(), Tenant: str(), Attempt: r.IntN(20), Time: time.Unix(r.Int64N(1<<33), r.Int64N(1e9)).UTC(),
			DurationMS: r.Float64() * 1e4, Outcome: str(), Status: r.IntN(600), Error: str(), Response: str(), TraceID: str(), Stream: str(), StreamSeq: r.Uint64(), Incarnation: str()})
	}
	for _, want := range recs {
		b := want.appendJSON(nil)
		var got Record
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v\njson %s", got, want, b)
		}
	}
}

func BenchmarkRecordJSON(b *testing.B) {
	rec := Record{EventID: "evt_123", Sink: "orders", Type: "order.created", Attempt: 1, Time: time.Now().UTC(), DurationMS: 1.25, Outcome: "delivered", Status: 200, Stream: "EVENTS", StreamSeq: 42}
	b.Run("encoding/json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = json.Marshal(rec)
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for i := 0; i < b.N; i++ {
			buf = rec.appendJSON(buf[:0])
		}
	})
}
