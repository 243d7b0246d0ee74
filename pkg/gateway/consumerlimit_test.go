package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
)

// Creating a dedicated API sink past stream.max_consumers is refused
// with 409 naming the limit and its value, never 500: a limit reached is
// the operator's to raise, not a fault of the gateway. The refused sink
// is not kept, and the next create is refused the same way, as is a
// replay, which needs a consumer of its own.
func TestConsumerLimitAnswers409(t *testing.T) {
	sr := newSigReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: apiTop + "stream: {max_consumers: 6}\n"})
	dedicated := func(name string) string {
		return strings.Replace(sr.apiSinkJSON(name, "", ">"), `{"name"`, `{"delivery":"dedicated","name"`, 1)
	}
	var out map[string]any
	created, code := 0, 0
	for i := 0; i < 10; i++ {
		out = nil
		code = apiJSON(t, g, "POST", "/v1/sinks", dedicated(fmt.Sprintf("s%d", i)), &out)
		if code != 201 {
			break
		}
		created++
	}
	if created == 0 || code != 409 {
		t.Fatalf("after %d sinks created: %d %v, want 409", created, code, out)
	}
	msg, _ := out["error"].(string)
	if !strings.Contains(msg, "stream.max_consumers (6) reached") {
		t.Fatalf("the answer does not name the limit and its value: %q", msg)
	}
	if code := apiJSON(t, g, "GET", fmt.Sprintf("/v1/sinks/s%d", created), "", nil); code != 404 {
		t.Fatalf("the refused sink answers %d, want 404", code)
	}
	if code := apiJSON(t, g, "POST", "/v1/sinks", dedicated("again"), &out); code != 409 {
		t.Fatalf("the next create: %d %v, want 409", code, out)
	}
	// A replay takes a consumer of its own while it runs: the same limit.
	out = nil
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if code := apiJSON(t, g, "POST", "/v1/sinks/s0/replay", `{"since":"`+since+`"}`, &out); code != 409 || !strings.Contains(fmt.Sprint(out["error"]), "stream.max_consumers (6) reached") {
		t.Fatalf("a replay past the limit: %d %v, want 409 naming stream.max_consumers (6)", code, out)
	}
}
