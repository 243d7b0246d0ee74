package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

func TestAttemptLogAnswersEachQueryKind(t *testing.T) {
	forEachDelivery(t, testAttemptLogAnswersEachQueryKind)
}

func testAttemptLogAnswersEachQueryKind(t *testing.T, delivery string) {
	rc := testutil.NewReceiver(t)
	rc.SetAnswer(func(w http.ResponseWriter, sink, id string, n int) {
		if sink == "a" && id == "x1" && n == 1 {
			w.WriteHeader(500)
			fmt.Fprint(w, "boom: database unavailable")
		}
	})
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("a", `[">"]`, 4, delivery+"    retry: {schedule: [100ms], jitter: 0}\n") + rc.SinkYAML("b", `["order.*"]`, 4, delivery)})
	gatewaytest.Publish(t, g, "order.completed", "x1", []byte(`{"total":1}`), nil)
	gatewaytest.Publish(t, g, "user.signup", "x2", []byte(`{}`), nil)
	testutil.WaitFor(t, 10*time.Second, "deliveries", func() bool { return len(rc.Hits("a")) == 3 && len(rc.Hits("b")) == 1 })

	var recs []attempts.Record
	testutil.WaitFor(t, 5*time.Second, "attempts of x1 on a", func() bool {
		adminDo(t, g, "GET", "/v1/attempts?sink=a&event_id=x1", &recs)
		return len(recs) == 2
	})
	first, second := recs[0], recs[1]
	if first.Attempt != 1 || first.Outcome != "retried" || first.Status != 500 || !strings.Contains(first.Response, "boom") || first.Error == "" {
		t.Errorf("first attempt %+v", first)
	}
	if second.Attempt != 2 || second.Outcome != "delivered" || second.Status != 200 || second.Type != "order.completed" {
		t.Errorf("second attempt %+v", second)
	}
	for q, want := range map[string]int{
		"/v1/attempts?status=500":                 1,
		"/v1/attempts?type=order.*":               3,
		"/v1/attempts?type=user.signup":           1,
		"/v1/attempts?sink=b":                     1,
		"/v1/attempts?outcome=delivered":          3,
		"/v1/attempts?limit=2":                    2,
		"/v1/attempts?until=2000-01-01T00:00:00Z": 0,
		"/v1/attempts?since=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339): 0,
	} {
		adminDo(t, g, "GET", q, &recs)
		if len(recs) != want {
			t.Errorf("%s: %d records, want %d", q, len(recs), want)
		}
	}
	var ev gatewayapi.EventView
	if code := adminDo(t, g, "GET", "/v1/events/x1", &ev); code != 200 {
		t.Fatalf("/v1/events/x1: %d", code)
	}
	if len(ev.Attempts) != 3 || string(ev.Data) != `{"total":1}` || ev.Subject != "events.order.completed" {
		t.Errorf("event view %+v", ev)
	}
	if code := adminDo(t, g, "GET", "/v1/events/nope", nil); code != 404 {
		t.Errorf("unknown event: %d", code)
	}
}

func TestAttemptLogRetention(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: "attempts: {max_age: 1s}", Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	gatewaytest.Publish(t, g, "order.completed", "r1", []byte(`{}`), nil)
	var recs []attempts.Record
	testutil.WaitFor(t, 5*time.Second, "the attempt record", func() bool {
		adminDo(t, g, "GET", "/v1/attempts?event_id=r1", &recs)
		return len(recs) == 1
	})
	testutil.WaitFor(t, 10*time.Second, "the record to expire", func() bool {
		adminDo(t, g, "GET", "/v1/attempts?event_id=r1", &recs)
		return len(recs) == 0
	})
}
