package apisinks

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// With a key the bucket holds the spec sealed and reads it back; without
// one it holds it plain, and a plain record says so.
func TestRecordEncodeDecode(t *testing.T) {
	rec := Record{Spec: json.RawMessage(`{"name":"a","webhook":{"secrets":["whsec_x"]}}`), Op: "create", Actor: "ann", At: time.Now().UTC(), IncarnationID: NewIncarnation()}
	s := newTestSealer(t, 1)
	data, err := s.Encode("a", rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("whsec_x")) {
		t.Fatalf("sealed record shows its secret: %s", data)
	}
	got, err := s.Decode("a", data)
	if err != nil || got.Plain() || string(got.Spec) != string(rec.Spec) || got.Op != "create" || got.IncarnationID != rec.IncarnationID {
		t.Fatalf("decode sealed: %+v %v", got, err)
	}
	var none *Sealer
	if _, err := none.Decode("a", data); !errors.Is(err, ErrNoKey) {
		t.Fatalf("sealed record read without a key: %v", err)
	}
	plain, err := none.Encode("a", rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Sealer{nil, s} {
		got, err := r.Decode("a", plain)
		if err != nil || !got.Plain() || string(got.Spec) != string(rec.Spec) {
			t.Fatalf("decode plain (key %v): %+v %v", r != nil, got, err)
		}
	}
	if _, err := s.Decode("a", []byte("{")); err == nil {
		t.Fatal("a broken record decoded")
	}
}

// An API sink keeps its incarnation through every revision; a record from
// before incarnations gets a stable derived one that a file sink's never
// equals.
func TestRecordIncarnation(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	drawn := Record{CreatedAt: created, IncarnationID: NewIncarnation()}
	if drawn.Incarnation("s") != drawn.IncarnationID {
		t.Error("the stored incarnation is not the record's")
	}
	legacy := Record{CreatedAt: created}
	if legacy.Incarnation("s") != (Record{CreatedAt: created, Op: "update"}).Incarnation("s") {
		t.Error("a record without an incarnation is not read the same at every revision")
	}
	if legacy.Incarnation("s") == legacy.Incarnation("t") || FileIncarnation("s") == legacy.Incarnation("s") {
		t.Error("derived incarnations collide")
	}
}
