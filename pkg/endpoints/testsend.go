package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// DefaultTestType is the type of a test event when the request names none.
const DefaultTestType = "switchyard.test"

// testResponseLimit is how much of the destination's answer a test shows.
const testResponseLimit = 1 << 10

// TestSink sends one event straight to a sink's destination, through its
// driver and signed like any delivery, and says what the destination
// answered. It goes around the stream: nothing is stored, retried,
// logged as an attempt or dead-lettered, and the breaker does not see it.
func (e *Endpoints) TestSink(ctx context.Context, name string, req gatewayapi.TestRequest) (gatewayapi.TestResult, error) {
	if err := gatewayapi.CheckName(name); err != nil {
		return gatewayapi.TestResult{}, err
	}
	s, ok := e.host.Sink(name)
	if !ok {
		return gatewayapi.TestResult{}, gatewayapi.UnknownSink(name)
	}
	typ := req.Type
	if typ == "" {
		typ = DefaultTestType
	}
	if err := subject.ValidFilter(typ); err != nil || strings.ContainsAny(typ, "*>") {
		return gatewayapi.TestResult{}, config.FieldErrors{{Field: "type", Message: fmt.Sprintf("%q is not an event type (dot-separated tokens, no wildcards)", typ)}}
	}
	data := []byte(req.Data)
	if len(data) == 0 {
		data, _ = json.Marshal(map[string]string{"message": "A test event from Switchyard", "sink": name})
	} else if !json.Valid(data) {
		return gatewayapi.TestResult{}, config.FieldErrors{{Field: "data", Message: "must be JSON"}}
	}
	ev := &event.Event{ID: "msg_test_" + strings.TrimPrefix(apisinks.NewName(), "ep_"), Type: typ, Source: "switchyard", Time: time.Now().UTC(),
		ContentType: "application/json", Data: data}
	if t := s.Tenant; t != "" && t != subject.AnyTenant {
		ev.Tenant = t
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	res := gatewayapi.TestResult{EventID: ev.ID}
	start := time.Now()
	err := e.host.Send(ctx, name, []*event.Event{ev}, func(_, status int, body []byte) {
		res.Status = status
		res.Response = excerpt(body, testResponseLimit)
	})
	res.DurationMS = time.Since(start).Milliseconds()
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	e.log.Info("test event sent", "sink", name, "event_id", ev.ID, "ok", res.OK, "status", res.Status)
	return res, nil
}

// excerpt is the start of b as text, cut on a rune boundary.
func excerpt(b []byte, limit int) string {
	if len(b) > limit {
		b = b[:limit]
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
