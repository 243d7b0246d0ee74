package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// Every JSON body of the admin and ingest APIs goes through one bounded
// reader: a malformed request of at most 1 MiB (too deep, too large, of
// the wrong types, cut short) is answered 4xx within a second and
// allocates at most 64 MB in all (so its peak memory is lower still),
// and a sink whose fields have the wrong types is never stored.
func TestMalformedBodiesAreRefusedCheaply(t *testing.T) {
	const ingestToken = "tok-bounds-0123456789"
	top := apiTop + fmt.Sprintf("ingest:\n  listen: \"127.0.0.1:0\"\n  tokens: [{name: t, token: %q}]\n", ingestToken)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: top})
	rc := testutil.NewReceiver(t)
	sink := fmt.Sprintf(`"events":[">"],"webhook":{"url":"%s/x","allow_private_networks":true,"tls":{"ca_file":%q}}`, rc.Server.URL, rc.CAFile)
	if code := apiJSON(t, g, "POST", "/v1/sinks", `{"name":"held",`+sink+`}`, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}

	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	mib := 1<<20 - 128
	bodies := map[string]string{
		"deep description": `{"name":"deep",` + sink + `,"description":` + deep(8000) + `}`,
		"deep, cut short":  strings.Repeat(`{"a":`, mib/5),
		"many elements":    "[" + strings.Repeat("{},", mib/3-1) + "{}]",
		"one long string":  `"` + strings.Repeat("x", mib) + `"`,
		"cut short":        `{"name":"cut",` + sink[:len(sink)-5],
		"not an object":    `[1,2,3]`,
	}
	// Wrong types, per route: each must be refused, not ignored.
	typed := map[string]string{
		"POST /v1/sinks":                     `{"name":"typed",` + sink + `,"description":{"nested":"object"}}`,
		"PATCH /v1/sinks/held":               `{"description":["a","list"]}`,
		"POST /v1/sinks/held/secrets/rotate": `{"grace":24}`,
		"POST /v1/sinks/held/test":           `{"type":7}`,
		"POST /v1/sinks/held/pause":          `{"reason":{"why":"x"}}`,
		"POST /v1/sinks/held/replay":         `{"since":1}`,
		"POST /v1/session":                   `{"token":["s3cret"]}`,
		"POST ingest /v1/events":             `{"type":["a"]}`,
	}
	send := func(route, body string) (int, string) {
		method, path, _ := strings.Cut(route, " ")
		base, token := "http://"+g.AdminAddr(), "s3cret"
		if p, ok := strings.CutPrefix(path, "ingest "); ok {
			base, path, token = "http://"+g.IngestAddr(), p, ingestToken
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
	check := func(t *testing.T, route, body string) {
		var code int
		var answer string
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		code, answer = send(route, body)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s (%d bytes): %d in %v, %d KB allocated: %.120s", route, len(body), code, took.Round(time.Millisecond), alloc>>10, answer)
		if code < 400 || code > 499 {
			t.Errorf("%s: status %d, want 4xx: %s", route, code, answer)
		}
		if took > time.Second {
			t.Errorf("%s: answered in %v, want at most 1s", route, took)
		}
		if alloc > 64<<20 {
			t.Errorf("%s: %d MB allocated, want at most 64 MB", route, alloc>>20)
		}
	}
	for route := range typed {
		for name, body := range bodies {
			t.Run(route+"/"+name, func(t *testing.T) { check(t, route, body) })
		}
		t.Run(route+"/wrong types", func(t *testing.T) { check(t, route, typed[route]) })
	}
	for _, name := range []string{"deep", "typed", "cut"} {
		if code := apiJSON(t, g, "GET", "/v1/sinks/"+name, "", nil); code != http.StatusNotFound {
			t.Errorf("sink %s from a malformed body: GET answered %d, want 404 (never stored)", name, code)
		}
	}
	var held map[string]any
	apiJSON(t, g, "GET", "/v1/sinks/held", "", &held)
	if d, ok := held["description"]; ok && d != "" {
		t.Errorf("a malformed patch changed the sink: description %v", d)
	}
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
