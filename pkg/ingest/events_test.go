package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// One event and an array: 202 names every id, and the stream holds the
// events as a sink reads them (type, tenant, headers, data byte for byte).
func TestPublishStoresEvents(t *testing.T) {
	rg := newRig(t, nil, nil)
	resp, body := rg.post(t, ingest.PathEvents, tokenAny, []byte(`{"type":"order.completed","id":"o-1","source":"shop","subject":"o/1","time":"2026-11-30T10:00:00Z","data":{"n": 1,  "s":"x"}}`), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("single: %d %s", resp.StatusCode, body)
	}
	acc := decode[ingest.Accepted](t, body)
	if len(acc.IDs) != 1 || acc.IDs[0] != "o-1" || acc.Results[0].Duplicate || !acc.Results[0].Stored {
		t.Fatalf("single: %+v", acc)
	}
	resp, body = rg.post(t, ingest.PathEvents, tokenAny, []byte(`[{"type":"a.b","data":"s"},{"type":"a.c","tenant":"t1","data_base64":"AP8="}]`), nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("array: %d %s", resp.StatusCode, body)
	}
	acc = decode[ingest.Accepted](t, body)
	if len(acc.IDs) != 2 || acc.IDs[0] == "" || acc.IDs[0] == acc.IDs[1] {
		t.Fatalf("array: generated ids %v", acc.IDs)
	}
	got := rg.stored(t)
	if len(got) != 3 {
		t.Fatalf("stored %d events, want 3", len(got))
	}
	e := got[0]
	if e.ID != "o-1" || e.Type != "order.completed" || e.Tenant != "" || e.Source != "shop" || e.Subject != "o/1" ||
		!e.Time.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) || string(e.Data) != `{"n": 1,  "s":"x"}` || e.ContentType != "application/json" {
		t.Errorf("single event read back as %+v (data %s)", e, e.Data)
	}
	if got[1].ID != acc.IDs[0] || got[1].Type != "a.b" || string(got[1].Data) != `"s"` {
		t.Errorf("array[0] read back as %+v", got[1])
	}
	if got[2].ID != acc.IDs[1] || got[2].Tenant != "t1" || got[2].Type != "a.c" || string(got[2].Data) != "\x00\xff" || got[2].ContentType != "application/octet-stream" {
		t.Errorf("array[1] read back as %+v", got[2])
	}
}

// A token bound to a tenant publishes for it (an event without a tenant
// takes the token's) and for no other; an unbound token chooses.
func TestTokenTenantBinding(t *testing.T) {
	rg := newRig(t, nil, nil)
	tests := []struct {
		name, token, body string
		want              int
		wantTenant        string
	}{
		{"bound token, own tenant", tokenAcme, `{"type":"x.y","tenant":"acme"}`, 202, "acme"},
		{"bound token, no tenant given", tokenAcme, `{"type":"x.y"}`, 202, "acme"},
		{"bound token, other tenant", tokenAcme, `{"type":"x.y","tenant":"beta"}`, 403, ""},
		{"bound token, other tenant in an array", tokenAcme, `[{"type":"x.y"},{"type":"x.y","tenant":"beta"}]`, 403, ""},
		{"unbound token, any tenant", tokenAny, `{"type":"x.y","tenant":"beta"}`, 202, "beta"},
		{"unbound token, no tenant", tokenAny, `{"type":"x.y"}`, 202, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rg.stored(t))
			resp, body := rg.post(t, ingest.PathEvents, tt.token, []byte(tt.body), nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.want)
			}
			after := rg.stored(t)
			if tt.want != 202 {
				if len(after) != before {
					t.Fatalf("refused request published %d events", len(after)-before)
				}
				p := decode[ingest.Problem](t, body)
				if p.Field != "tenant" || p.Index == nil {
					t.Errorf("403 names %+v, want the tenant field and an index", p)
				}
				return
			}
			if len(after) != before+1 || after[len(after)-1].Tenant != tt.wantTenant {
				t.Fatalf("stored %d new, last tenant %q, want 1 for %q", len(after)-before, after[len(after)-1].Tenant, tt.wantTenant)
			}
		})
	}
}

// Anything invalid refuses the whole request, naming the event's index
// and the field, and publishes nothing.
func TestInvalidRequestsPublishNothing(t *testing.T) {
	rg := newRig(t, nil, func(o *ingest.Options) { o.MaxBody = 64 << 10 })
	many := "[" + strings.Repeat(`{"type":"a"},`, config.MaxIngestBatch) + `{"type":"a"}]`
	tests := []struct {
		name, token, body string
		status            int
		index             int // -1: none
		field             string
	}{
		{"missing token", "", `{"type":"a"}`, 401, -1, ""},
		{"wrong token", "tok-wrong-0123456789", `{"type":"a"}`, 401, -1, ""},
		{"one bad type in an array", tokenAny, `[{"type":"a.b"},{"type":"a..b"},{"type":"c"}]`, 400, 1, "type"},
		{"wildcard type", tokenAny, `[{"type":"a.b"},{"type":"a.b"},{"type":"order.*"}]`, 400, 2, "type"},
		{"missing type", tokenAny, `[{"type":"a"},{"data":{}}]`, 400, 1, "type"},
		{"type of the wrong JSON kind", tokenAny, `[{"type":"a"},{"type":7}]`, 400, 1, "type"},
		{"unknown field", tokenAny, `[{"type":"a","colour":"red"}]`, 400, 0, "colour"},
		{"bad time", tokenAny, `[{"type":"a"},{"type":"a","time":"yesterday"}]`, 400, 1, "time"},
		{"data and data_base64", tokenAny, `{"type":"a","data":1,"data_base64":"AA=="}`, 400, 0, "data_base64"},
		{"bad base64", tokenAny, `{"type":"a","data_base64":"!!"}`, 400, 0, "data_base64"},
		{"bad tenant", tokenAny, `{"type":"a","tenant":"a.b"}`, 400, 0, "tenant"},
		{"control character in an id", tokenAny, `{"type":"a","id":"x\r\ny"}`, 400, 0, "id"},
		{"bad JSON", tokenAny, `{"type":`, 400, -1, ""},
		{"trailing data", tokenAny, `{"type":"a"} {"type":"b"}`, 400, -1, ""},
		{"empty array", tokenAny, `[]`, 400, -1, ""},
		{"too many events", tokenAny, many, 400, config.MaxIngestBatch, ""},
		{"body too large", tokenAny, `{"type":"a","data":"` + strings.Repeat("x", 64<<10) + `"}`, 413, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rg.post(t, ingest.PathEvents, tt.token, []byte(tt.body), nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.status)
			}
			p := decode[ingest.Problem](t, body)
			if p.Error == "" {
				t.Error("no error message")
			}
			if tt.index >= 0 && (p.Index == nil || *p.Index != tt.index) {
				t.Errorf("index %v, want %d (%s)", p.Index, tt.index, p.Error)
			}
			if p.Field != tt.field {
				t.Errorf("field %q, want %q (%s)", p.Field, tt.field, p.Error)
			}
			if strings.Contains(string(body), tokenAny) {
				t.Error("the answer quotes the token")
			}
		})
	}
	if n := len(rg.stored(t)); n != 0 {
		t.Fatalf("refused requests published %d events", n)
	}
}

// Ids de-duplicate per tenant: a resend is a duplicate, the same id for
// another tenant (or none) is a different event, and receivers see the
// producer's id either way.
func TestDedupPerTenant(t *testing.T) {
	rg := newRig(t, nil, nil)
	send := []struct {
		token, body string
		dup         bool
	}{
		{tokenAny, `{"type":"a","id":"1","tenant":"acme"}`, false},
		{tokenAny, `{"type":"a","id":"1","tenant":"beta"}`, false},
		{tokenAny, `{"type":"a","id":"1"}`, false},
		{tokenAcme, `{"type":"a","id":"1"}`, true}, // acme's again, through its own token
		{tokenAny, `[{"type":"a","id":"1","tenant":"beta"},{"type":"a","id":"2","tenant":"beta"}]`, true},
	}
	for i, s := range send {
		resp, body := rg.post(t, ingest.PathEvents, s.token, []byte(s.body), nil)
		if resp.StatusCode != 202 {
			t.Fatalf("send %d: %d %s", i, resp.StatusCode, body)
		}
		if acc := decode[ingest.Accepted](t, body); acc.Results[0].Duplicate != s.dup {
			t.Errorf("send %d: duplicate %v, want %v", i, acc.Results[0].Duplicate, s.dup)
		}
	}
	got := rg.stored(t)
	var seen []string
	for _, e := range got {
		seen = append(seen, e.Tenant+"/"+e.ID)
	}
	if want := "acme/1 beta/1 /1 beta/2"; strings.Join(seen, " ") != want {
		t.Fatalf("stored %q, want %q", strings.Join(seen, " "), want)
	}
}

// Over a token's rate: 429 with Retry-After, nothing published; other
// tokens are not held back.
func TestRateLimitPerToken(t *testing.T) {
	rg := newRig(t, nil, func(o *ingest.Options) {
		o.Tokens = append(o.Tokens, config.IngestToken{Name: "slow", Token: "tok-slow-0123456789", RateLimit: "3/m"})
	})
	// 3/m holds one event in its bucket (a second's worth, at least one).
	if resp, body := rg.post(t, ingest.PathEvents, "tok-slow-0123456789", []byte(`{"type":"a"}`), nil); resp.StatusCode != 202 {
		t.Fatalf("first event: %d %s", resp.StatusCode, body)
	}
	resp, body := rg.post(t, ingest.PathEvents, "tok-slow-0123456789", []byte(`{"type":"a"}`), nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the rate: %d %s", resp.StatusCode, body)
	}
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 19 || ra > 20 {
		t.Errorf("Retry-After %q, want the 20s until the next event", resp.Header.Get("Retry-After"))
	}
	if resp, _ := rg.post(t, ingest.PathEvents, tokenAny, []byte(`{"type":"a"}`), nil); resp.StatusCode != 202 {
		t.Errorf("another token: %d", resp.StatusCode)
	}
	if n := len(rg.stored(t)); n != 2 {
		t.Errorf("stored %d, want 2", n)
	}
}

// JetStream unreachable: 503 with Retry-After, and results that say
// nothing was stored.
func TestUnavailableIs503(t *testing.T) {
	for _, n := range []int{1, 5} {
		t.Run(fmt.Sprintf("%d events", n), func(t *testing.T) {
			rg := newRig(t, nil, func(o *ingest.Options) { o.PublishTimeout = 300 * time.Millisecond })
			rg.js.Server.Shutdown()
			rg.js.Server.WaitForShutdown()
			body := "[" + strings.TrimSuffix(strings.Repeat(`{"type":"a"},`, n), ",") + "]"
			start := time.Now()
			resp, out := rg.post(t, ingest.PathEvents, tokenAny, []byte(body), nil)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), out)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("answered after %s, want about the publish timeout", d)
			}
			p := decode[ingest.Problem](t, out)
			if len(p.Results) != n {
				t.Fatalf("results %+v", p.Results)
			}
			for _, r := range p.Results {
				if r.Stored || r.ID == "" {
					t.Errorf("result %+v", r)
				}
			}
		})
	}
}

// A 202 means stored: the server stopped right after the answer and
// started again from the same store holds every acknowledged event.
func TestAcceptedSurvivesServerRestart(t *testing.T) {
	dir := t.TempDir()
	js := testutil.StartJetStream(t, func(o *server.Options) { o.StoreDir = dir })
	rg := newRig(t, js, nil)
	var events []string
	for i := range 100 {
		events = append(events, fmt.Sprintf(`{"type":"order.created","id":"k%d","data":{"i":%d}}`, i, i))
	}
	resp, body := rg.post(t, ingest.PathEvents, tokenAny, []byte("["+strings.Join(events, ",")+"]"), nil)
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	js.Server.Shutdown() // right after the 202: nothing more was flushed on purpose
	js.Server.WaitForShutdown()
	again := testutil.StartJetStream(t, func(o *server.Options) { o.StoreDir = dir })
	rg.js = again
	got := rg.stored(t)
	if len(got) != 100 {
		t.Fatalf("after the restart the stream holds %d events, want 100", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprintf("k%d", i); e.ID != want || string(e.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %d: id %q data %s", i, e.ID, e.Data)
		}
	}
	var acc ingest.Accepted
	if err := json.Unmarshal(body, &acc); err != nil || len(acc.IDs) != 100 {
		t.Fatalf("202 body %s", body)
	}
}
