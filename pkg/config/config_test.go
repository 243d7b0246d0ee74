package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	_ "github.com/switchyard-dev/switchyard/pkg/sink/all"
	"github.com/switchyard-dev/switchyard/pkg/sink/webhook"
)

// webhookOf is a sink's webhook block.
func webhookOf(s *config.Sink) *webhook.Config { return config.Settings[webhook.Config](s) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParseGood(t *testing.T) {
	src := `
nats:
  url: ""
  embedded: {listen: 127.0.0.1:4333, store_dir: /tmp/x, sync_interval: always}
stream: {name: EVENTS, subjects: ["events.>"], max_age: 24h, replicas: 1}
admin: {listen: 127.0.0.1:8081, token: "${ADMIN_TOKEN}"}
sinks:
  - name: orders
    events: ["order.*", "invoice.>"]
    concurrency: 4
    retry:
      schedule: [1s, 2s]
    webhook:
      url: https://example.com/hooks
      secrets: ["${ORDERS_SECRET}"]
      timeout: 3s
      headers: {X-Api-Key: "${API_KEY:-none}"}
`
	cfg, err := config.Parse("good.yaml", []byte(src), env(map[string]string{"ORDERS_SECRET": secret, "ADMIN_TOKEN": "t0k"}))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	if webhookOf(&s).Secrets[0] != secret || webhookOf(&s).Headers["X-Api-Key"] != "none" || cfg.Admin.Token != "t0k" {
		t.Errorf("env not expanded: %+v %+v", webhookOf(&s), cfg.Admin)
	}
	if s.Retry.Attempts() != 3 || webhookOf(&s).Timeout.D != 3*time.Second || s.AckWait.D != 6*time.Second {
		t.Errorf("retry/timeouts: attempts=%d timeout=%s ackwait=%s", s.Retry.Attempts(), webhookOf(&s).Timeout, s.AckWait)
	}
	if got := s.FilterSubjects(); strings.Join(got, ",") != "events.order.*,events.invoice.>" {
		t.Errorf("FilterSubjects = %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := config.Parse("d.yaml", []byte("sinks: [{name: a, events: ['>'], webhook: {url: 'https://x.example', secrets: ['"+secret+"']}}]"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sinks[0]
	if cfg.NATS.Embedded.Listen != config.DefaultListen || cfg.Stream.Name != "EVENTS" || s.Concurrency != 16 ||
		len(s.Retry.Schedule) != 9 || webhookOf(&s).Timeout.D != 15*time.Second || webhookOf(&s).Body != "envelope" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

// Every problem validate can find, each with the line and field it names.
func TestParseProblems(t *testing.T) {
	head := "sinks:\n  - name: a\n    events: [\">\"]\n"
	hook := "    webhook:\n      url: https://x.example\n      secrets: [\"" + secret + "\"]\n"
	tests := []struct {
		name, src string
		want      string // a substring of one problem: "LINE: field: message"
	}{
		{"unknown top-level field", "natz: {}\n", ":1: natz: unknown field"},
		{"unknown nested field", head + hook + "      retries: 3\n", ":7: sinks[0].webhook.retries: unknown field"},
		{"wrong type", head + "    concurrency: sixteen\n" + hook, ":4: sinks[0].concurrency: cannot unmarshal"},
		{"bad duration", head + hook + "      timeout: 15 seconds\n", `:7: sinks[0].webhook.timeout: invalid duration "15 seconds"`},
		{"missing url", head + "    webhook:\n      secrets: [\"" + secret + "\"]\n", ":4: sinks[0].webhook.url: missing"},
		{"bad url scheme", head + "    webhook:\n      url: ftp://x\n      secrets: [\"" + secret + "\"]\n", ":5: sinks[0].webhook.url: \"ftp://x\": scheme must be https"},
		{"duplicate sink name", head + hook + "  - name: a\n    events: [\">\"]\n" + hook, ":7: sinks[1].name: duplicate sink name \"a\""},
		{"invalid filter", "sinks:\n  - name: a\n    events: [\"order.*x\"]\n" + hook, ":3: sinks[0].events[0]: invalid event filter"},
		{"filter > not last", "sinks:\n  - name: a\n    events: [\">.x\"]\n" + hook, "\">\" must be the last token"},
		{"overlapping filters", "sinks:\n  - name: a\n    events: [\"order.*\", \"order.>\"]\n" + hook, "overlaps"},
		{"no events", "sinks:\n  - name: a\n" + hook, ":2: sinks[0].events: missing"},
		{"secret not whsec", head + "    webhook:\n      url: https://x.example\n      secrets: [\"hunter2hunter2\"]\n", ":6: sinks[0].webhook.secrets[0]: secret must start with \"whsec_\""},
		{"env var not set", head + "    webhook:\n      url: https://x.example\n      secrets: [\"${NOPE}\"]\n", ":6: environment variable NOPE is not set"},
		{"bad sink name", "sinks:\n  - name: a.b\n    events: [\">\"]\n" + hook, ":2: sinks[0].name: \"a.b\""},
		{"missing name", "sinks:\n  - events: [\">\"]\n" + hook, "sinks[0].name: missing"},
		{"no destination", head, ":2: sinks[0]: needs exactly one destination"},
		{"ack_wait shorter than timeout", head + "    ack_wait: 1s\n" + hook, "sinks[0].ack_wait: 1s must be longer than the webhook timeout"},
		{"bad sync interval", "nats: {embedded: {sync_interval: often}}\n", ":1: nats.embedded.sync_interval: must be a positive duration or \"always\""},
		{"replicas on embedded", "stream: {replicas: 3}\n", ":1: stream.replicas: the embedded server is a single node"},
		{"stream subject outside events", "stream: {subjects: [\"orders.>\"]}\n", "stream.subjects[0]"},
		{"missing ca file", head + hook + "      tls: {ca_file: /nonexistent/ca.pem}\n", ":7: sinks[0].webhook.tls.ca_file:"},
		{"bad body mode", head + hook + "      body: xml\n", "sinks[0].webhook.body: must be envelope or raw"},
		{"bad yaml syntax", "sinks: [\n", "bad.yaml:"},
		{"override signature header", head + hook + "      headers: {webhook-signature: x}\n", "sinks[0].webhook.headers.webhook-signature"},
		{"eventbridge aws source", "sinks:\n  - name: a\n    events: [\">\"]\n    eventbridge: {source: aws.events, region: us-east-1}\n", ":4: sinks[0].eventbridge.source: \"aws.events\": sources starting with \"aws.\" are reserved"},
		{"eventbridge no source", "sinks:\n  - name: a\n    events: [\">\"]\n    eventbridge: {region: us-east-1}\n", "sinks[0].eventbridge.source: missing"},
		{"eventbridge bad template", "sinks:\n  - name: a\n    events: [\">\"]\n    eventbridge: {source: x, detail_type: \"{{.Type\"}\n", "sinks[0].eventbridge.detail_type: bad template"},
		{"pubsub no topic", "sinks:\n  - name: a\n    events: [\">\"]\n    pubsub: {project: p}\n", "sinks[0].pubsub.topic: missing"},
		{"gocloud bad scheme", "sinks:\n  - name: a\n    events: [\">\"]\n    gocloud: {url: \"ftp://x\"}\n", "sinks[0].gocloud.url: scheme \"ftp\" is not one of"},
		{"two destinations", head + hook + "    gocloud: {url: \"mem://t\"}\n", "sinks[0]: needs exactly one destination block"},
		{"negative batch", head + "    batch: {max_events: -1}\n" + hook, "sinks[0].batch.max_events: must not be negative"},
		{"bad jitter", head + "    retry: {jitter: 2}\n" + hook, "sinks[0].retry.jitter: must be in [0, 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("bad.yaml", []byte(tt.src), env(nil))
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse = %v, want Problems", err)
			}
			if !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	src := "bogus: 1\nsinks:\n  - name: a\n    events: [\">\"]\n    concurrency: x\n    webhook:\n      url: https://x\n      secrets: [\"" + secret + "\"]\n      timeout: soon\n"
	_, err := config.Parse("f.yaml", []byte(src), env(nil))
	var ps config.Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("want 3 problems (unknown field, wrong type, bad duration), got %v", err)
	}
}
