package gateway_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
)

// A name in a request's path or query is a name, never a subject or key
// wildcard: GET /v1/sinks/%3E/history answered every sink's history
// (the name went into the sinks bucket's history as ">"). Every route
// that takes a sink name answers a name no sink can have with 404 (400 in
// a query), and shows nothing of the sinks that exist.
func TestWildcardNamesReachNoSink(t *testing.T) {
	g, _ := gatewaytest.Run(t, gatewaytest.Options{})
	for _, name := range []string{"alpha", "beta"} {
		body := `{"name":"` + name + `","events":["order.*"],"webhook":{"url":"https://example.com/` + name + `"}}`
		if code := apiJSON(t, g, "POST", "/v1/sinks", body, nil); code != 201 {
			t.Fatalf("create %s: %d", name, code)
		}
	}
	for _, name := range []string{"%3E", "%2A", "alpha.%3E", "%2A.beta", "alpha%20beta", "alpha.", "%3Ealpha"} {
		for _, r := range []struct{ method, path string }{
			{"GET", "/v1/sinks/" + name + "/history"},
			{"GET", "/v1/sinks/" + name},
			{"PATCH", "/v1/sinks/" + name},
			{"DELETE", "/v1/sinks/" + name},
			{"GET", "/v1/sinks/" + name + "/dead-letters"},
			{"DELETE", "/v1/sinks/" + name + "/dead-letters"},
			{"POST", "/v1/sinks/" + name + "/dead-letters/redrive"},
			{"POST", "/v1/sinks/" + name + "/pause"},
			{"POST", "/v1/sinks/" + name + "/resume"},
			{"POST", "/v1/sinks/" + name + "/secrets/rotate"},
			{"POST", "/v1/sinks/" + name + "/test"},
		} {
			body := ""
			if r.method == "PATCH" {
				body = `{"description":"x"}`
			}
			var out any
			code := apiJSON(t, g, r.method, r.path, body, &out)
			if code != 404 {
				t.Errorf("%s %s: %d %v, want 404", r.method, r.path, code, out)
			}
		}
	}
	var out any
	// A replay id is a key part too: GET answered 500 ("invalid key", or
	// another key's value that is no replay's).
	for _, id := range []string{"%3E", "%2A", "x.cancel", "x%20y"} {
		for _, method := range []string{"GET", "DELETE"} {
			if code := apiJSON(t, g, method, "/v1/replays/"+id, "", &out); code != 404 {
				t.Errorf("%s /v1/replays/%s: %d %v, want 404", method, id, code, out)
			}
		}
	}
	for _, q := range []string{"sink=%3E", "sink=%2A", "sink=alpha.%3E", "tenant=%3E"} {
		if code := apiJSON(t, g, "GET", "/v1/attempts?"+q, "", &out); code != 400 {
			t.Errorf("attempts ?%s: %d %v, want 400", q, code, out)
		}
	}
	// The sinks are untouched: each still has its one revision.
	for _, name := range []string{"alpha", "beta"} {
		var hist []map[string]any
		if code := apiJSON(t, g, "GET", "/v1/sinks/"+name+"/history", "", &hist); code != 200 || len(hist) != 1 || !strings.Contains(hist[0]["sink"].(map[string]any)["name"].(string), name) {
			t.Fatalf("%s history: %d %v", name, code, hist)
		}
	}
}
