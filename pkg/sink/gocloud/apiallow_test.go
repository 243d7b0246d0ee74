package gocloud_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/sink/sinktest"
)

// apiSink judges a gocloud sink as the admin API does: ParseSink, then
// APIRestrictions under allow.
func apiSink(t *testing.T, topicURL string, allow ...string) (config.Sink, config.FieldErrors) {
	t.Helper()
	cfg := config.Defaults()
	cfg.API.Allow = allow
	s, err := config.Loader{}.ParseSink([]byte(gocloudSpec(topicURL)), cfg)
	if err != nil {
		t.Fatalf("%s: ParseSink: %v", topicURL, err)
	}
	return s, cfg.API.APIRestrictions(s)
}

// gocloudSpec is an API request's body for a gocloud sink publishing to
// topicURL.
func gocloudSpec(topicURL string) string {
	return `{"name":"q","events":[">"],"gocloud":{"url":"` + topicURL + `","timeout":"3s"}}`
}

// api.allow governs what a gocloud URL borrows through its query, not
// only fields of that name: ?endpoint= once sent requests signed with the
// gateway's AWS identity to a server of the sink's choosing (the endpoint
// field of an eventbridge sink was refused meanwhile).
func TestAPIAllowGovernsURLOptions(t *testing.T) {
	tests := []struct {
		url   string
		allow []string
		want  string // the api.allow entry the refusal names; "" means allowed
	}{
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A9", nil, config.AllowEndpoint},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?endpoint=https%3A%2F%2Fsqs.example", nil, config.AllowEndpoint},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?%65ndpoint=http%3A%2F%2F127.0.0.1%3A9", nil, config.AllowEndpoint},
		{"awssns:///arn:aws:sns:us-east-1:1:t?endpoint=http%3A%2F%2F127.0.0.1%3A9", nil, config.AllowEndpoint},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?profile=admin", nil, config.AllowCredentialsFile},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?role=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx", nil, config.AllowRoleARN},
		{"awssqs://127.0.0.1:9/1/q?region=us-east-1", nil, config.AllowPrivateNetworks},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A9", []string{config.AllowEndpoint}, ""},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?profile=admin", []string{config.AllowCredentialsFile}, ""},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1", nil, ""},
		{"awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1&fips=true&anonymous=true", nil, ""},
		{"awssns:///arn:aws:sns:us-east-1:1:t", nil, ""},
		{"kafka://orders?key_name=k", nil, ""},
		{"rabbit://orders", nil, ""},
		{"gcppubsubv2://projects/p/topics/t", nil, ""},
		{"mem://x", nil, ""},
	}
	for _, tt := range tests {
		_, fe := apiSink(t, tt.url, tt.allow...)
		switch {
		case tt.want == "" && len(fe) > 0:
			t.Errorf("%s (allow %v): refused: %v", tt.url, tt.allow, fe)
		case tt.want != "" && (len(fe) == 0 || fe[0].Field != "gocloud.url" || !strings.Contains(fe[0].Message, "api.allow: ["+tt.want+"]")):
			t.Errorf("%s: APIRestrictions = %v, want a refusal of gocloud.url naming api.allow: [%s]", tt.url, fe, tt.want)
		}
	}
}

// Allowed an endpoint but not private networks, an API sink's AWS
// requests still dial through the SSRF guard: no request signed with the
// gateway's identity reaches a loopback server.
func TestAPIAWSSinkDialsThroughGuard(t *testing.T) {
	srvURL, hits := sinktest.AWSLoopback(t)
	t.Setenv("AWS_REGION", "us-east-1")
	u := "awssqs://sqs.us-east-1.amazonaws.com/1/q?region=us-east-1&endpoint=" + url.QueryEscape(srvURL)

	if _, fe := apiSink(t, u); len(fe) == 0 {
		t.Errorf("api.allow empty: the endpoint query was accepted")
	}
	// Allowed the endpoint, or a record stored before the rule: either
	// way the dial is guarded.
	sinktest.RequireGuardRefusal(t, gocloudSpec(u), config.AllowEndpoint)
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests signed with the gateway's identity", n)
	}
}

// A gocloud nats:// topic publishes core NATS on the server
// NATS_SERVER_URL names, which may be the gateway's: never on NATS's own
// subjects.
func TestNATSTopicNeverOnNATSOwnSubjects(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool // refused
	}{
		{"nats://$JS.API.STREAM.PURGE.EVENTS", true},
		{"nats://$KV.SWITCHYARD_SINKS.x", true},
		{"nats://_INBOX.abc", true},
		{"nats://$SYS.REQ.SERVER.PING", true},
		{"nats://orders.created", false},
	} {
		src := "sinks:\n  - name: n\n    events: [\">\"]\n    gocloud: {url: \"" + tt.url + "\"}\n"
		_, err := config.Parse("g.yaml", []byte(src), func(string) (string, bool) { return "", false })
		if got := err != nil && strings.Contains(err.Error(), "sinks[0].gocloud.url"); got != tt.want {
			t.Errorf("%s: Parse = %v, want refused=%v", tt.url, err, tt.want)
		}
	}
}
