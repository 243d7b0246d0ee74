package gateway_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

// A producer allowed to publish only on events.public.> must not be able to
// pass its event off as another type (or another event's id) by setting
// Switchyard's own identity headers: not on delivery, not in the dead
// letter, not after a redrive.
func TestForgedIdentityHeadersAreIgnored(t *testing.T) {
	if bus.RedriveStream != event.RedriveStream {
		t.Fatalf("bus.RedriveStream %q != event.RedriveStream %q: the trust decision reads the wrong stream", bus.RedriveStream, event.RedriveStream)
	}
	rc := testutil.NewReceiver(t)
	var mu sync.Mutex // what the answer reads
	gone := true
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if id == "f2" && gone {
			w.WriteHeader(410)
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	forged := map[string]string{event.HeaderOrigSubject: "events.billing.refund", event.HeaderEventID: "evt_someone_else"}
	gatewaytest.Publish(t, g, "public.ping", "f1", []byte(`{"n":1}`), forged)
	gatewaytest.Publish(t, g, "public.ping", "f2", []byte(`{"n":2}`), forged)

	envelopes := func() map[string]event.Envelope {
		out := map[string]event.Envelope{}
		for _, h := range rc.Hits("s") {
			var env event.Envelope
			if err := json.Unmarshal(h.Body, &env); err != nil {
				t.Fatalf("body %s: %v", h.Body, err)
			}
			if !h.Valid {
				t.Errorf("invalid signature on %s", h.ID)
			}
			if env.ID != h.ID {
				t.Errorf("webhook-id %q but envelope id %q", h.ID, env.ID)
			}
			out[env.ID+"#"+env.Type] = env
		}
		return out
	}
	testutil.WaitFor(t, 10*time.Second, "both events attempted", func() bool { return len(rc.Hits("s")) >= 2 })
	got := envelopes()
	for _, want := range []string{"f1#public.ping", "f2#public.ping"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no delivery of %s; got %v", want, envKeys(got))
		}
	}

	var recs []deadletter.Record
	testutil.WaitFor(t, 10*time.Second, "dead letter", func() bool {
		adminDo(t, g, "GET", "/v1/sinks/s/dead-letters", &recs)
		return len(recs) == 1
	})
	if r := recs[0]; r.ID != "f2" || r.Type != "public.ping" {
		t.Errorf("dead letter id %q type %q, want f2 public.ping", r.ID, r.Type)
	}
	mu.Lock()
	gone = false
	mu.Unlock()
	if code := adminDo(t, g, "POST", "/v1/sinks/s/dead-letters/redrive", nil); code != 200 {
		t.Fatalf("redrive: %d", code)
	}
	testutil.WaitFor(t, 10*time.Second, "redriven delivery", func() bool { return len(rc.Hits("s")) >= 3 })
	got = envelopes()
	if len(got) != 2 {
		t.Errorf("deliveries as %v, want only f1#public.ping and f2#public.ping", envKeys(got))
	}
}

func envKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
