package config_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Config that would lose events is refused, each problem naming its field
// and line: a stream that ages events out before a sink's retry schedule
// can run, internal stream names that collide, rates that are not numbers,
// byte limits that are not sizes.
func TestParseRefusesConfigThatLosesEvents(t *testing.T) {
	hook := "    webhook:\n      url: https://x.example\n      secrets: [\"" + secret + "\"]\n"
	sink := func(retry string) string {
		return "sinks:\n  - name: a\n    events: [\">\"]\n" + retry + hook
	}
	tests := []struct {
		name, src string
		want      string
	}{
		{"max_age shorter than the schedule", "stream: {max_age: 1h}\n" + sink("    retry: {schedule: [30m, 30m], jitter: 0, max_retry_after: 1s}\n"),
			"bad.yaml:1: stream.max_age: 1h0m0s is shorter than sink \"a\"'s retry window"},
		{"jitter counts", "stream: {max_age: 1h}\n" + sink("    retry: {schedule: [18m, 18m, 18m], jitter: 0.1, max_retry_after: 1s}\n"),
			"stream.max_age: 1h0m0s is shorter than sink \"a\"'s retry window"},
		{"max_retry_after counts", "stream: {max_age: 1h}\n" + sink("    retry: {schedule: [1s, 1s], jitter: 0, max_retry_after: 40m}\n"),
			"stream.max_age: 1h0m0s is shorter than sink \"a\"'s retry window"},
		{"schedule line named", "stream: {max_age: 1h}\n" + sink("    retry: {schedule: [50m, 50m], jitter: 0}\n"),
			"bad.yaml:5: sinks[0].retry.schedule: its retry window"},
		{"default schedule against a short max_age", "stream: {max_age: 24h}\n" + sink(""),
			"stream.max_age: 24h0m0s is shorter than sink \"a\"'s retry window"},
		{"dead letters in the attempts stream", "dead_letters: {stream: ATTEMPTS}\n", "bad.yaml:1: dead_letters.stream: \"ATTEMPTS\" is the attempt log's stream"},
		{"events in the redrive stream", "stream: {name: SWITCHYARD_REDRIVE}\n", "bad.yaml:1: stream.name: \"SWITCHYARD_REDRIVE\" is the redrive stream"},
		{"dead letters in the KV bucket", "dead_letters: {stream: KV_SWITCHYARD_STATE}\n", "dead_letters.stream: \"KV_SWITCHYARD_STATE\""},
		{"names differing in case only", "stream: {name: events}\ndead_letters: {stream: EVENTS}\n", "dead_letters.stream: \"EVENTS\": must be a valid stream name other than the events stream"},
		{"events in attempts, any case", "stream: {name: attempts}\n", "stream.name: \"attempts\" is the attempt log's stream"},
		{"NaN rate", sink("    rate_limit: NaN/s\n"), "bad.yaml:4: sinks[0].rate_limit: \"NaN/s\": write a positive rate"},
		{"Inf rate", sink("    rate_limit: Inf/s\n"), "sinks[0].rate_limit: \"Inf/s\": write a positive rate"},
		{"infinity rate", sink("    rate_limit: +infinity/m\n"), "sinks[0].rate_limit: \"+infinity/m\": write a positive rate"},
		{"negative rate", sink("    rate_limit: -5/s\n"), "sinks[0].rate_limit: \"-5/s\": write a positive rate"},
		{"zero rate", sink("    rate_limit: 0/s\n"), "sinks[0].rate_limit: \"0/s\": write a positive rate"},
		{"duplicate window past max_age", "stream: {max_age: 1m}\n", "bad.yaml:1: stream.duplicate_window: 2m0s is longer than stream.max_age"},
		{"bad size", "stream: {max_bytes: lots}\n", "bad.yaml:1: stream.max_bytes: invalid size \"lots\""},
		{"zero size", "attempts: {max_bytes: 0}\n", "attempts.max_bytes: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("bad.yaml", []byte(tt.src), env(nil))
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse = %v, want Problems containing %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("problems:\n%v\nwant one containing %q", err, tt.want)
			}
		})
	}
}

func TestRetryWindowAndByteLimits(t *testing.T) {
	src := "stream: {max_age: 2h, max_bytes: 2GiB}\ndead_letters: {max_bytes: 512MB}\nsinks:\n  - name: a\n    events: [\">\"]\n    retry: {schedule: [10m, 20m], jitter: 0.5, max_retry_after: 15m}\n" +
		"    webhook:\n      url: https://x.example\n      secrets: [\"" + secret + "\"]\n      timeout: 10s\n"
	cfg, err := config.Parse("ok.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	// max(10m×1.5, 15m) + max(20m×1.5, 15m) + 3 attempts × 20s ack wait.
	if got, want := cfg.Sinks[0].RetryWindow().String(), "46m0s"; got != want {
		t.Errorf("RetryWindow = %s, want %s", got, want)
	}
	if cfg.Stream.MaxBytes.N != 2<<30 || cfg.DeadLetters.MaxBytes.N != 512e6 || cfg.Attempts.MaxBytes.N != config.DefaultAttemptsMaxBytes {
		t.Errorf("byte limits: %d %d %d", cfg.Stream.MaxBytes.N, cfg.DeadLetters.MaxBytes.N, cfg.Attempts.MaxBytes.N)
	}
	def, err := config.Parse("d.yaml", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if def.Stream.MaxBytes.N != config.DefaultStreamMaxBytes || def.DeadLetters.MaxBytes.N != config.DefaultDLQMaxBytes {
		t.Errorf("default byte limits: %+v %+v", def.Stream, def.DeadLetters)
	}
	if r, err := config.ParseRate("6000/m"); err != nil || r != 100 {
		t.Errorf("ParseRate(6000/m) = %v, %v", r, err)
	}
}

// /v1/config's JSON reads back into a Config (the CLI's plan does this).
func TestByteSizeJSONRoundTrip(t *testing.T) {
	in := config.ByteSize{N: 10 << 30}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out config.ByteSize
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip of %s: %v, %v", b, out, err)
	}
}
