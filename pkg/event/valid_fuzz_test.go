package event

import (
	"encoding/json"
	"testing"
)

// validJSON must say what encoding/json.Valid says: the seeds run with
// every go test; `go test -fuzz FuzzValidAgrees ./pkg/event/` searches on.
func FuzzValidAgrees(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2,"x\u00e9"]`, "\"\xff\"", `{"a":}`, ` 1 `, `01`, `1e`, `"\ud800"`, `{"a":1}x`, `tru`, "\"\x01\"", `-0.5e+3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, g := json.Valid(b), validJSON(b); a != g {
			t.Fatalf("%q: encoding/json %v, gjson %v", b, a, g)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	doc := []byte(`{"pad":"` + string(make([]byte, 0)) + `","n":[1,2,3,{"a":true}],"s":"` + string(bytesOf('x', 1000)) + `"}`)
	b.Run("encoding/json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			json.Valid(doc)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			validJSON(doc)
		}
	})
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
