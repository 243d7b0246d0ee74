package ingest_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// maxRequestAlloc is what one request of at most 1 MiB may allocate in
// all (a bound on its peak memory, which can only be lower): the issue's
// promise is 64 MB of peak memory per such request.
const maxRequestAlloc = 64 << 20

// allocated is the bytes the process allocated while f ran. Counted in
// all goroutines, so it can only overstate the handler's share.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// repeat fills about 1 MiB (less than max_body) with open, n copies of
// item separated by sep, and close.
func repeat(open, item, sep, close string) []byte {
	n := (1<<20 - 64 - len(open) - len(close)) / (len(item) + len(sep))
	return []byte(open + strings.Repeat(item+sep, n-1) + item + close)
}

// A request of 1 MiB, whatever its shape, costs the gateway a bounded
// amount of memory: the array is decoded one element at a time and the
// decode stops at the batch cap, before building what it would refuse.
func TestIngestRequestMemoryIsBounded(t *testing.T) {
	rg := newRig(t, nil, nil)
	for _, c := range []struct {
		name string
		body []byte
		want int
	}{
		{"empty objects", repeat("[", "{}", ",", "]"), http.StatusBadRequest},
		{"numbers", repeat("[", "1", ",", "]"), http.StatusBadRequest},
		{"small events", repeat("[", `{"type":"a"}`, ",", "]"), http.StatusBadRequest},
		{"wide data, then a number", repeat(`[{"type":"a","data":[`, "[]", ",", "]},1]"), http.StatusBadRequest},
		{"deep arrays", repeat("", "[", "", ""), http.StatusBadRequest},
		{"deep objects", repeat("", `{"a":`, "", ""), http.StatusBadRequest},
		{"deep data", repeat(`{"type":"a","data":`, "[", "", ""), http.StatusBadRequest},
		{"one long string", []byte(`"` + strings.Repeat("x", 1<<20-64) + `"`), http.StatusBadRequest},
		{"unterminated", repeat("[", `{"type":"a","data":{"k":"v"}}`, ",", ""), http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			var code int
			n := allocated(func() {
				req := httptest.NewRequest(http.MethodPost, ingest.PathEvents, bytes.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+tokenAny)
				w := httptest.NewRecorder()
				rg.h.ServeHTTP(w, req)
				code = w.Code
			})
			if code != c.want {
				t.Errorf("status %d, want %d", code, c.want)
			}
			t.Logf("%d bytes: status %d, %d KB allocated", len(c.body), code, n>>10)
			if n > maxRequestAlloc {
				t.Errorf("a %d-byte request allocated %d MB, want at most %d MB", len(c.body), n>>20, maxRequestAlloc>>20)
			}
		})
	}
}

// readSpy is a body that records whether it was read.
type readSpy struct {
	r    io.Reader
	read bool
}

func (s *readSpy) Read(p []byte) (int, error) {
	s.read = true
	return s.r.Read(p)
}

// A token over its rate is answered 429 before its body is read: a
// throttled client cannot make the gateway buffer and parse megabytes.
func TestRateLimitedTokenBodyIsNotRead(t *testing.T) {
	rg := newRig(t, nil, func(o *ingest.Options) {
		o.Tokens = []config.IngestToken{{Name: "slow", Token: tokenAny, RateLimit: "1/h"}}
	})
	send := func(body io.Reader) int {
		req := httptest.NewRequest(http.MethodPost, ingest.PathEvents, body)
		req.Header.Set("Authorization", "Bearer "+tokenAny)
		w := httptest.NewRecorder()
		rg.h.ServeHTTP(w, req)
		return w.Code
	}
	if code := send(strings.NewReader(`{"type":"a"}`)); code != http.StatusAccepted {
		t.Fatalf("first event: %d", code)
	}
	spy := &readSpy{r: bytes.NewReader(repeat("[", `{"type":"a"}`, ",", "]"))}
	if code := send(spy); code != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d, want 429", code)
	}
	if spy.read {
		t.Error("the body of a request over its token's rate was read")
	}
}
