package gateway_test

import (
	"net/http"
	"testing"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
)

// Through the admin API, a sink may not publish on the gateway's own NATS
// subjects ($JS.API.> purged the events stream through a test send), nor
// borrow an endpoint or the gateway's network position through a URL
// (an awssqs ?endpoint= query, a nats url on loopback): each is refused
// with a field error, and nothing is stored.
func TestAPISinksMayNotBorrowThroughOptionsOverHTTP(t *testing.T) {
	g, _ := gatewaytest.Run(t, gatewaytest.Options{})
	var res struct {
		Errors []struct{ Field, Message string }
	}
	for _, c := range []struct{ body, field string }{
		{`{"name":"js","events":[">"],"nats":{"subject":"$JS.API.>"}}`, "nats.subject"},
		{`{"name":"kv","events":[">"],"nats":{"subject":"$KV.SWITCHYARD_SINKS.>"}}`, "nats.subject"},
		{`{"name":"inbox","events":[">"],"nats":{"subject":"_INBOX.>"}}`, "nats.subject"},
		{`{"name":"lo","events":[">"],"nats":{"url":"nats://127.0.0.1:4222","subject":"bridge.>"}}`, "nats.url"},
		{`{"name":"sqs","events":[">"],"gocloud":{"url":"awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A9"}}`, "gocloud.url"},
		{`{"name":"prof","events":[">"],"gocloud":{"url":"awssns:///arn:aws:sns:us-east-1:1:t?profile=admin"}}`, "gocloud.url"},
	} {
		res.Errors = nil
		code := apiJSON(t, g, "POST", "/v1/sinks", c.body, &res)
		if code != http.StatusUnprocessableEntity || len(res.Errors) != 1 || res.Errors[0].Field != c.field {
			t.Errorf("%s: %d %+v, want 422 on %s", c.body, code, res.Errors, c.field)
		}
	}
	var list []any
	if code := apiJSON(t, g, "GET", "/v1/sinks", "", &list); code != http.StatusOK || len(list) != 0 {
		t.Errorf("GET /v1/sinks: %d, %d sinks stored, want none", code, len(list))
	}
}
