package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// Every JSON body of the admin and ingest APIs goes through one bounded
// reader: a malformed request of at most 1 MiB (too deep, too large, of
// the wrong types, cut short) is answered 4xx having allocated at most
// 64 MB (so its peak memory is lower still) and 32,768 objects in all, and
// a sink whose fields have the wrong types is never stored. The objects
// are counted, not the time taken, so a slow or loaded machine proves the
// same: the bodies of many elements or levels have 200,000 or more, and
// a decoder building values from them would allocate at least one object
// per element or level (the 8,000-level description, decoded, once took
// 2.6 s and 800 MB). How fast the answers come is
// BenchmarkMalformedBodies' to measure.
func TestMalformedBodiesAreRefusedCheaply(t *testing.T) {
	m := newMalformedRig(t)
	check := func(t *testing.T, route, body string) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, answer := m.send(t, route, body)
		runtime.ReadMemStats(&after)
		alloc, objects := after.TotalAlloc-before.TotalAlloc, after.Mallocs-before.Mallocs
		t.Logf("%s (%d bytes): %d, %d KB and %d objects allocated: %.120s", route, len(body), code, alloc>>10, objects, answer)
		if code < 400 || code > 499 {
			t.Errorf("%s: status %d, want 4xx: %s", route, code, answer)
		}
		if alloc > 64<<20 {
			t.Errorf("%s: %d MB allocated, want at most 64 MB", route, alloc>>20)
		}
		if objects > 32<<10 {
			t.Errorf("%s: %d objects allocated, want at most 32768 (fewer than the large bodies' elements: none decoded into values)", route, objects)
		}
	}
	for route := range m.typed {
		for name, body := range m.bodies {
			t.Run(route+"/"+name, func(t *testing.T) { check(t, route, body) })
		}
		t.Run(route+"/wrong types", func(t *testing.T) { check(t, route, m.typed[route]) })
	}
	for _, name := range []string{"deep", "typed", "cut"} {
		if code := apiJSON(t, m.g, "GET", "/v1/sinks/"+name, "", nil); code != http.StatusNotFound {
			t.Errorf("sink %s from a malformed body: GET answered %d, want 404 (never stored)", name, code)
		}
	}
	var held map[string]any
	apiJSON(t, m.g, "GET", "/v1/sinks/held", "", &held)
	if d, ok := held["description"]; ok && d != "" {
		t.Errorf("a malformed patch changed the sink: description %v", d)
	}
}

// How fast each JSON body route refuses each malformed body, through
// HTTP: the speed TestMalformedBodiesAreRefusedCheaply does not time.
func BenchmarkMalformedBodies(b *testing.B) {
	m := newMalformedRig(b)
	for route := range m.typed {
		for name, body := range m.bodies {
			b.Run(route+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if code, answer := m.send(b, route, body); code < 400 || code > 499 {
						b.Fatalf("status %d, want 4xx: %s", code, answer)
					}
				}
			})
		}
	}
}

// malformedRig is a gateway with an ingest listener and a sink "held",
// malformed bodies of at most 1 MiB, and per JSON body route a body of
// the wrong types.
type malformedRig struct {
	g           *gateway.Gateway
	ingestToken string
	bodies      map[string]string // by what is wrong with them
	typed       map[string]string // by route: "METHOD path", "POST ingest path" for ingest's
}

func newMalformedRig(t testing.TB) *malformedRig {
	const ingestToken = "tok-bounds-0123456789"
	top := apiTop + fmt.Sprintf("ingest:\n  listen: \"127.0.0.1:0\"\n  tokens: [{name: t, token: %q}]\n", ingestToken)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: top})
	rc := testutil.NewReceiver(t)
	sink := fmt.Sprintf(`"events":[">"],"webhook":{"url":"%s/x","allow_private_networks":true,"tls":{"ca_file":%q}}`, rc.Server.URL, rc.CAFile)
	m := &malformedRig{g: g, ingestToken: ingestToken}
	if code, answer := m.send(t, "POST /v1/sinks", `{"name":"held",`+sink+`}`); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, answer)
	}

	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	mib := 1<<20 - 128
	m.bodies = map[string]string{
		"deep description": `{"name":"deep",` + sink + `,"description":` + deep(8000) + `}`,
		"deep, cut short":  strings.Repeat(`{"a":`, mib/5),
		"many elements":    "[" + strings.Repeat("{},", mib/3-1) + "{}]",
		"one long string":  `"` + strings.Repeat("x", mib) + `"`,
		"cut short":        `{"name":"cut",` + sink[:len(sink)-5],
		"not an object":    `[1,2,3]`,
	}
	// Wrong types, per route: each must be refused, not ignored.
	m.typed = map[string]string{
		"POST /v1/sinks":                     `{"name":"typed",` + sink + `,"description":{"nested":"object"}}`,
		"PATCH /v1/sinks/held":               `{"description":["a","list"]}`,
		"POST /v1/sinks/held/secrets/rotate": `{"grace":24}`,
		"POST /v1/sinks/held/test":           `{"type":7}`,
		"POST /v1/sinks/held/pause":          `{"reason":{"why":"x"}}`,
		"POST /v1/sinks/held/replay":         `{"since":1}`,
		"POST /v1/session":                   `{"token":["s3cret"]}`,
		"POST ingest /v1/events":             `{"type":["a"]}`,
	}
	return m
}

// send sends body to route and returns the answer's status and its
// first 4 KB.
func (m *malformedRig) send(t testing.TB, route, body string) (int, string) {
	method, path, _ := strings.Cut(route, " ")
	base, token := "http://"+m.g.AdminAddr(), "s3cret"
	if p, ok := strings.CutPrefix(path, "ingest "); ok {
		base, path, token = "http://"+m.g.IngestAddr(), p, m.ingestToken
	}
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(out)
}

// Through the admin API, a template that loops or recurses is refused
// with a field error (it would run, uninterruptible, on every event);
// with and if are fine.
func TestAPITemplatesMayNotLoopOverHTTP(t *testing.T) {
	g, _ := gatewaytest.Run(t, gatewaytest.Options{})
	var res struct {
		Errors []struct{ Field, Message string }
	}
	for _, c := range []struct{ body, field string }{
		{`{"name":"eb","events":[">"],"eventbridge":{"source":"com.example","region":"us-east-1","detail_type":"{{range 50000000}}{{end}}x"}}`, "eventbridge.detail_type"},
		{`{"name":"ps","events":[">"],"pubsub":{"project":"p","topic":"t","ordering_key":"{{define \"k\"}}{{template \"k\"}}{{end}}{{template \"k\"}}"}}`, "pubsub.ordering_key"},
	} {
		res.Errors = nil
		code := apiJSON(t, g, "POST", "/v1/sinks", c.body, &res)
		if code != http.StatusUnprocessableEntity || len(res.Errors) != 1 || res.Errors[0].Field != c.field {
			t.Errorf("%s: %d %+v, want 422 on %s", c.field, code, res.Errors, c.field)
		}
	}
}
