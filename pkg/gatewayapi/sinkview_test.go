package gatewayapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
)

// The typed view writes the object the map-typed view wrote (the
// definition's fields, the status's over them, then the view's own), and
// a client reads it back to the same object.
func TestSinkViewJSON(t *testing.T) {
	spec := `{"name":"a","events":["order.*"],"tenant":"acme","description":"d","retry":{"schedule":["1s","5s"]},"ack_wait":"2m","metadata":{"team":"x"},"webhook":{"url":"https://example.com/h","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],"headers":{"X-A":"b"}}}`
	s, err := config.Loader{}.ParseSink([]byte(spec), config.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	def := config.RedactedSink(s)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := gatewayapi.SinkStatus{Name: "a", Kind: "webhook", Events: []string{"order.*"}, Tenant: "acme", Source: gatewayapi.SourceAPI, State: "running", Pending: 7, LastSuccess: &at}
	v := gatewayapi.SinkView{SinkStatus: st, Definition: &def, Capabilities: []string{"rotate_secret"}, CreatedAt: &at, UpdatedAt: &at, Secret: "whsec_x"}

	// What the map-typed view held: the definition, the times, the
	// status over them, the capabilities and the secret.
	want := def.Map()
	want["created_at"], want["updated_at"] = at, at
	live, _ := json.Marshal(st)
	var liveMap map[string]any
	_ = json.Unmarshal(live, &liveMap)
	for k, x := range liveMap {
		want[k] = x
	}
	want["capabilities"] = []string{"rotate_secret"}
	want["secret"] = "whsec_x"
	wantJSON, _ := json.Marshal(want)

	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(wantJSON) {
		t.Fatalf("view JSON\n got %s\nwant %s", got, wantJSON)
	}
	var back gatewayapi.SinkView
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(got) {
		t.Fatalf("read back and written again\n got %s\nwant %s", again, got)
	}
	if back.Definition == nil || back.Definition.Kind() != "webhook" || back.Definition.Description != "d" || back.Pending != 7 || back.Secret != "whsec_x" {
		t.Fatalf("read back: %+v", back)
	}

	// A stored record that does not parse shows its name and status only.
	bare := gatewayapi.SinkView{SinkStatus: gatewayapi.SinkStatus{Name: "b", Source: gatewayapi.SourceAPI, State: "refused", StateReason: "why"}}
	got, _ = json.Marshal(bare)
	if want := `{"ack_pending":0,"capabilities":[],"dead_letters":0,"delivered":0,"events":null,"failed":0,"in_flight":0,"kind":"","latency_p99_seconds":0,"name":"b","oldest_pending_seconds":0,"pending":0,"redelivered":0,"source":"api","state":"refused","state_reason":"why"}`; string(got) != want {
		t.Fatalf("bare view %s, want %s", got, want)
	}
	back = gatewayapi.SinkView{}
	if err := json.Unmarshal(got, &back); err != nil || back.Definition != nil || back.StateReason != "why" {
		t.Fatalf("bare view read back: %+v %v", back, err)
	}
}
