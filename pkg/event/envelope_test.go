package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// referenceEnvelope is the envelope as encoding/json writes it (the
// implementation MarshalEnvelope replaced): the hand-written one must give
// the same bytes.
func referenceEnvelope(e *Event) []byte {
	env := Envelope{ID: e.ID, Type: e.Type, Timestamp: e.Time, Tenant: e.Tenant, Source: e.Source, Subject: e.Subject}
	raw := len(e.Data) > 0 && json.Valid(e.Data)
	switch {
	case len(e.Data) == 0:
		env.Data = json.RawMessage("null")
	case !raw:
		env.DataBase64, env.DataEncoding = e.Data, "base64"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		panic(err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("}\n"))
	if raw {
		return append(append(append(out, `,"data":`...), e.Data...), '}')
	}
	return append(out, '}')
}

func TestEnvelopeMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 30, 21, 0, 0, 123456789, time.UTC)
	cases := []*Event{
		{ID: "evt_1", Type: "order.completed", Time: at, Data: []byte(`{"a": 1}`)},
		{ID: "evt_2", Type: "order.completed", Tenant: "acme", Time: at, Data: []byte(`{}`)},
		{ID: "q\"uote\\back", Type: "t", Time: at.Truncate(time.Second), Source: "<svc>&", Subject: "tab\tnl\ncr\rbs\bff\f\x00\x1f", Data: []byte("\xff\x00raw")},
		{ID: "bad\xffutf8\xc3", Type: "line\u2028sep\u2029", Time: at.In(time.FixedZone("x", 3600)), Data: nil},
		{ID: "ünïcødé ✓ 😀", Type: "x", Time: at, Data: []byte(`"just a string"`)},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		b := make([]byte, r.IntN(40))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		cases = append(cases, &Event{ID: string(b), Type: "t", Subject: string(b[len(b)/2:]), Time: at, Data: b})
	}
	for _, e := range cases {
		got, err := e.MarshalEnvelope()
		if err != nil {
			t.Fatal(err)
		}
		if want := referenceEnvelope(e); !bytes.Equal(got, want) {
			t.Fatalf("envelope of %+q\n got %s\nwant %s", e.ID, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %s", got)
		}
	}
}

func BenchmarkMarshalEnvelope(b *testing.B) {
	data := []byte(`{"pad":"` + string(bytes.Repeat([]byte("x"), 1000)) + `"}`)
	e := &Event{ID: "evt_123456", Type: "order.created", Time: time.Now(), Subject: "order-1", Data: data}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := e.MarshalEnvelope(); err != nil {
			b.Fatal(err)
		}
	}
}
