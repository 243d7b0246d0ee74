package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ByteSize is a number of bytes, written as an integer or with a unit:
// 500MB, 10GiB (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of
// 1024).
type ByteSize struct{ N int64 }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseByteSize reads "10GiB", "512MB" or "1048576".
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q (use bytes or a unit such as 512MB, 10GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

// UnmarshalYAML reports a bad size as a yaml.TypeError, so every problem
// in the file is reported at once.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid size %q (use bytes or a unit such as 512MB, 10GiB)", n.Line, n.Value)}}
	}
	if v <= 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: must be positive, got %q", n.Line, n.Value)}}
	}
	b.N = v
	return nil
}

// MarshalYAML writes the size back with the largest binary unit that
// divides it.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// MarshalJSON writes the size as its number of bytes.
func (b ByteSize) MarshalJSON() ([]byte, error) { return []byte(strconv.FormatInt(b.N, 10)), nil }

// UnmarshalJSON reads what MarshalJSON writes (a byte count), so that a
// config fetched from /v1/config reads back.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	n, err := strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return fmt.Errorf("size: want a byte count, got %s", data)
	}
	b.N = n
	return nil
}

func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b.N >= u.mult && b.N%u.mult == 0 {
			return strconv.FormatInt(b.N/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b.N, 10)
}

// Byte limits of the internal streams, documented in README.md. JetStream
// reserves a stream's max_bytes on its store when it creates the stream.
const (
	DefaultStreamMaxBytes   = 10 << 30
	DefaultDLQMaxBytes      = 1 << 30
	DefaultAttemptsMaxBytes = 1 << 30
	// StateMaxBytes bounds the KV bucket of runtime state (pauses, small
	// records); it is not configurable.
	StateMaxBytes = 64 << 20
)

// Internal stream names, reserved: a configured stream by one of these
// names would be the same stream as Switchyard's own. The attempts and
// redrive streams and the state bucket are named in their packages
// (pkg/attempts, pkg/bus); a test there keeps these in step.
const (
	AttemptsStreamName = "ATTEMPTS"
	RedriveStreamName  = "SWITCHYARD_REDRIVE"
	StateBucketName    = "SWITCHYARD_STATE"
)

// RetryWindow is how long an event may stay in the stream while this sink
// still retries it: every step of the schedule at its longest (the delay
// plus the jitter, or the longest Retry-After the sink honours, whichever
// is longer), plus one ack wait per attempt for the deliveries themselves.
// stream.max_age must be longer, or an event being retried ages out of the
// stream between two attempts: neither delivered nor dead-lettered.
func (s *Sink) RetryWindow() time.Duration {
	j := 0.0
	if s.Retry.Jitter != nil {
		j = *s.Retry.Jitter
	}
	var total time.Duration
	for _, d := range s.Retry.Schedule {
		step := time.Duration(float64(d.D) * (1 + j))
		total = satAdd(total, max(step, s.Retry.MaxRetryAfter.D))
	}
	for range s.Retry.Attempts() {
		total = satAdd(total, s.AckWait.D)
	}
	return total
}

func satAdd(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// validateLimits checks what would lose events without an error at run
// time: internal stream names that collide, and a stream that ages events
// out before a sink has finished retrying them.
func (c *Config) validateLimits(p *parser) {
	reserved := func(name string) string {
		switch {
		case strings.EqualFold(name, AttemptsStreamName):
			return "the attempt log's stream"
		case strings.EqualFold(name, RedriveStreamName):
			return "the redrive stream"
		case strings.EqualFold(name, "KV_"+StateBucketName):
			return "the state bucket's stream"
		case strings.HasPrefix(strings.ToUpper(name), "KV_"), strings.HasPrefix(strings.ToUpper(name), "OBJ_"):
			return "a JetStream key-value or object store's name"
		}
		return ""
	}
	for _, f := range []struct{ field, name string }{{"stream.name", c.Stream.Name}, {"dead_letters.stream", c.DeadLetters.Stream}} {
		if what := reserved(f.name); what != "" {
			p.at(f.field, "%q is %s: Switchyard's internal streams need names of their own", f.name, what)
		}
	}
	if c.Stream.DuplicateWindow.D > c.Stream.MaxAge.D {
		p.at("stream.duplicate_window", "%s is longer than stream.max_age (%s): JetStream refuses it", c.Stream.DuplicateWindow, c.Stream.MaxAge)
	}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		if s.Retry.Jitter == nil {
			continue
		}
		w := s.RetryWindow()
		if c.Stream.MaxAge.D >= w {
			continue
		}
		p.at("stream.max_age", "%s is shorter than sink %q's retry window (%s: schedule %s with jitter %v, Retry-After up to %s, ack_wait %s per attempt): an event still being retried would age out of the stream, neither delivered nor dead-lettered",
			c.Stream.MaxAge, s.Name, w.Round(time.Second), scheduleString(s.Retry.Schedule), *s.Retry.Jitter, s.Retry.MaxRetryAfter, s.AckWait)
		p.at(fmt.Sprintf("sinks[%d].retry.schedule", i), "its retry window (%s) is longer than stream.max_age (%s): shorten the schedule or lengthen stream.max_age", w.Round(time.Second), c.Stream.MaxAge)
	}
}

func scheduleString(s []Duration) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
