package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// A paused sink whose oldest event nears stream.max_age is warned about
// in its status, a gauge and one WARN line; an events stream nearing its
// max_bytes likewise.
func TestWarningsBeforeEventsAgeOutOrTheStreamFills(t *testing.T) {
	defer gateway.SetLimitsInterval(200 * time.Millisecond)()
	rc := testutil.NewReceiver(t)
	logs := &testutil.SyncBuffer{}
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: "stream: {max_age: 10s, duplicate_window: 1s, max_bytes: 64KiB}",
		Sinks: rc.SinkYAML("a", `[">"]`, 4, "    ack_wait: 3s\n    retry: {schedule: [100ms], jitter: 0, max_retry_after: 100ms}\n"),
		Logs:  logs})
	if err := g.Pause(context.Background(), "a", "test"); err != nil {
		t.Fatal(err)
	}
	body := []byte(`"` + strings.Repeat("x", 998) + `"`)
	for i := 0; i < 55; i++ {
		gatewaytest.Publish(t, g, "order.created", fmt.Sprintf("e%d", i), body, nil)
	}
	testutil.WaitFor(t, 5*time.Second, "the stream-size warning", func() bool { return strings.Count(logs.String(), "events stream is") == 1 })
	if r := promtest.ToFloat64(g.Metrics().StreamBytesRatio.WithLabelValues("EVENTS")); r < 0.8 || r >= 1 {
		t.Errorf("stream bytes ratio %v, want in [0.8, 1)", r)
	}

	var sinks []gatewayapi.SinkStatus
	testutil.WaitFor(t, 15*time.Second, "the sink's warning", func() bool {
		adminDo(t, g, "GET", "/v1/sinks", &sinks)
		return len(sinks) == 1 && len(sinks[0].Warnings) > 0
	})
	if w := sinks[0].Warnings[0]; !strings.Contains(w, "of stream.max_age") {
		t.Errorf("warning %q", w)
	}
	testutil.WaitFor(t, 2*time.Second, "the oldest-pending gauge past 0.8", func() bool {
		return promtest.ToFloat64(g.Metrics().OldestPendingRatio.WithLabelValues("a")) >= 0.8
	})
	testutil.WaitFor(t, 2*time.Second, "the WARN line", func() bool { return strings.Count(logs.String(), "sink falling behind stream.max_age") >= 1 })
	// One second is five more checks: a warning repeated on every check
	// rather than once per crossing would show.
	testutil.Holds(t, time.Second, "one warning per crossing", func() bool {
		return strings.Count(logs.String(), "sink falling behind stream.max_age") == 1 && strings.Count(logs.String(), "events stream is") == 1
	})
	if n, m := strings.Count(logs.String(), "sink falling behind stream.max_age"), strings.Count(logs.String(), "events stream is"); n != 1 || m != 1 {
		t.Errorf("warnings logged %d and %d times, want once per crossing", n, m)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Error("no WARN level line")
	}
}
