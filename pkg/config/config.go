// Package config reads Switchyard's YAML: strict decoding (unknown fields
// are errors), ${ENV} expansion, defaults and validation, with every
// problem reported as FILE:LINE: field: message. It also judges a sink
// written through the admin API (ParseSink, and api.allow's rules in
// API), diffs two configs for a reload (Plan), and documents the common
// fields for the README and the JSON Schema (Docs); sink kinds plug their
// blocks in through Kinds, ingest providers through pkg/ingest/provider.
package config

import (
	"time"

	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Config is a whole configuration file.
type Config struct {
	NATS          NATS     `yaml:"nats"`
	Stream        Stream   `yaml:"stream"`
	DeadLetters   DLQ      `yaml:"dead_letters"`
	Attempts      Attempts `yaml:"attempts"`
	Admin         Admin    `yaml:"admin"`
	Log           Log      `yaml:"log"`
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	API           API      `yaml:"api"`
	Sinks         []Sink   `yaml:"sinks"`
	Ingest        Ingest   `yaml:"ingest"`
	Sources       []Source `yaml:"sources"`

	// File is the path the config was read from, for messages.
	File string `yaml:"-"`
}

// NATS says where JetStream is. With URL empty, Switchyard embeds a server.
type NATS struct {
	URL       string   `yaml:"url"`
	CredsFile string   `yaml:"creds_file"`
	NKeyFile  string   `yaml:"nkey_seed_file"`
	TLS       TLS      `yaml:"tls"`
	Embedded  Embedded `yaml:"embedded"`
}

// Embedded configures the in-process nats-server used when NATS.URL is empty.
type Embedded struct {
	Listen   string `yaml:"listen"`
	StoreDir string `yaml:"store_dir"`
	// SyncInterval is how often JetStream fsyncs: a duration, or "always"
	// to fsync every write. Empty keeps the server default (2m).
	SyncInterval string `yaml:"sync_interval"`
	// InsecureNoAuth allows Listen on a non-loopback address: the embedded
	// server has no authentication, so anyone who reaches it can publish
	// and read every stream.
	InsecureNoAuth bool `yaml:"insecure_no_auth"`
	// MaxStore is the embedded JetStream's storage limit. JetStream
	// reserves every stream's max_bytes against it when the stream is
	// created; its own default (75% of the free disk) would refuse the
	// default stream limits on a small disk, so the default here is 1 TiB:
	// the disk is the limit, and the streams' max_bytes should fit it.
	MaxStore ByteSize `yaml:"max_store"`
}

// TLS names PEM files for a custom CA and a client certificate.
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Stream is the JetStream stream producers publish to.
type Stream struct {
	Name            string   `yaml:"name"`
	Subjects        []string `yaml:"subjects"`
	MaxAge          Duration `yaml:"max_age"`
	Replicas        int      `yaml:"replicas"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	// MaxBytes bounds the stream. When it is full, publishes are refused
	// (discard new): events already stored are never dropped for room.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxConsumers caps the consumers on the events stream (and on the
	// redrive stream): one per dedicated sink, plus one per running
	// replay. nats-server's own default is 1,000.
	MaxConsumers int `yaml:"max_consumers"`
}

// DLQ is the stream that keeps dead letters.
type DLQ struct {
	Stream string   `yaml:"stream"`
	MaxAge Duration `yaml:"max_age"`
	// MaxBytes bounds the dead-letter stream (discard new: a full stream
	// refuses new dead letters, and their events stay pending).
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Attempts is the attempt log: one record per delivery attempt.
type Attempts struct {
	Enabled *bool    `yaml:"enabled"`
	MaxAge  Duration `yaml:"max_age"`
	// MaxBytes bounds the attempt log; the oldest records go first.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// On reports whether the attempt log is kept.
func (a Attempts) On() bool { return a.Enabled == nil || *a.Enabled }

// Admin is the HTTP admin API.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	// InsecureNoAuth allows Listen on a non-loopback address without a
	// Token, and then answers any Host header.
	InsecureNoAuth bool `yaml:"insecure_no_auth"`
	// SecretsKeyFile holds 32 random bytes; when set, the secrets of
	// API-created sinks are sealed with AES-GCM in the sinks bucket.
	SecretsKeyFile string `yaml:"secrets_key_file"`
	// TLS, when set, makes the admin listener serve HTTPS.
	TLS AdminTLS `yaml:"tls"`
}

// AdminTLS is the admin listener's certificate and key (PEM files).
type AdminTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the admin listener serves TLS.
func (t AdminTLS) Enabled() bool { return t.CertFile != "" }

// Log sets up log/slog.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Sink is one destination with its own durable consumer.
type Sink struct {
	Name   string   `yaml:"name"`
	Events []string `yaml:"events"`
	// Tenant scopes the sink: "" takes unscoped events (events.<type>), a
	// tenant id only that tenant's (tenants.<tenant>.<type>), "*" both.
	Tenant      string            `yaml:"tenant"`
	Description string            `yaml:"description"`
	Metadata    map[string]string `yaml:"metadata"`
	// Disabled keeps the sink's consumer and backlog but delivers nothing,
	// like a pause that lives in the sink's definition.
	Disabled bool `yaml:"disabled"`
	// DisableAfter, when set, disables a sink whose deliveries have all
	// failed for this long (no success since the first failure).
	DisableAfter Duration `yaml:"disable_after"`
	// Delivery is how the sink is fed: "dedicated" (its own durable
	// consumers, the default for a YAML sink) or "shared" (the fixed set of
	// shared consumers; an idle sink costs no consumer).
	Delivery    string `yaml:"delivery"`
	Concurrency int    `yaml:"concurrency"`
	Retry       Retry  `yaml:"retry"`
	// AckWait is how long JetStream waits for a settle before it assumes the
	// gateway died and redelivers. It must outlast one delivery.
	AckWait Duration `yaml:"ack_wait"`
	// MaxAckPending bounds events handed out and not yet settled, those
	// waiting for a retry included. It must be well above Concurrency, or a
	// handful of events waiting out their retry delay stall the whole sink.
	MaxAckPending int `yaml:"max_ack_pending"`

	// Breaker stops deliveries to a failing destination for a while,
	// keeping its backlog in the stream. On by default for webhooks.
	Breaker Breaker `yaml:"breaker"`
	// RateLimit caps deliveries: "200/s", "6000/m", "100000/h". Empty: none.
	RateLimit      string `yaml:"rate_limit"`
	RateLimitBurst int    `yaml:"rate_limit_burst"`

	// Batch groups events into one driver call; each driver caps it at its
	// own limit (webhooks send batches of one).
	Batch Batch `yaml:"batch"`

	// Dest is the destination block: exactly one key named after a
	// registered kind (webhook: {...}), decoded and validated by its spec.
	Dest Destination `yaml:"-" json:"-"`

	// Incarnation tells this sink from an earlier or later sink of the
	// same name: set by the gateway (random for a sink created through the
	// API, derived from the name for a file sink), never written by hand.
	// Its consumers carry it in their metadata and belong to it alone.
	Incarnation string `yaml:"-" json:"-"`

	// Confined is set on a sink written through the API (ParseSink) when
	// api.allow does not list private_networks: every connection its
	// driver opens of its own dials through the SSRF guard
	// (pkg/sink/netguard), whatever the block says. Not part of the YAML.
	Confined bool `yaml:"-" json:"-"`
}

// Breaker is a sink's circuit breaker. It opens after ConsecutiveFailures
// failures in a row, or when FailureRate of at least MinRequests attempts in
// Window failed; after CoolDown it lets single probes through and closes
// on the first success.
type Breaker struct {
	Enabled             *bool    `yaml:"enabled"`
	ConsecutiveFailures int      `yaml:"consecutive_failures"`
	FailureRate         float64  `yaml:"failure_rate"`
	Window              Duration `yaml:"window"`
	MinRequests         int      `yaml:"min_requests"`
	CoolDown            Duration `yaml:"cool_down"`
}

// On reports whether the breaker is enabled.
func (b Breaker) On() bool { return b.Enabled != nil && *b.Enabled }

// Batch is how a sink groups events per driver call.
type Batch struct {
	MaxEvents int      `yaml:"max_events"`
	MaxWait   Duration `yaml:"max_wait"`
}

// Retry is a sink's retry policy. JetStream redelivery carries it out.
type Retry struct {
	// Schedule is the delay before attempt 2, 3, …; attempts = len+1.
	Schedule []Duration `yaml:"schedule"`
	// Jitter spreads each delay by ± this fraction.
	Jitter *float64 `yaml:"jitter"`
	// MaxRetryAfter caps the delay a receiver may ask for with Retry-After.
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// Attempts is how many deliveries a sink makes before dead-lettering.
func (r Retry) Attempts() int { return len(r.Schedule) + 1 }

// Kind names the sink's destination type.
func (s *Sink) Kind() string { return s.Dest.Kind }

// Shared says whether the sink is fed by shared delivery.
func (s *Sink) Shared() bool { return s.Delivery == DeliveryShared }

// Timeout is how long one driver call may take.
func (s *Sink) Timeout() time.Duration {
	if s.Dest.kind != nil && s.Dest.Config != nil {
		return s.Dest.kind.Timeout(s.Dest.Config)
	}
	return DefaultTimeout
}

// Defaults, documented in README.md's config reference.
var (
	DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}
)

const (
	DefaultListen           = "127.0.0.1:4222"
	DefaultStoreDir         = "./data"
	DefaultStreamName       = "EVENTS"
	DefaultMaxAge           = 168 * time.Hour
	DefaultDupWindow        = 2 * time.Minute
	DefaultMaxConsumers     = 10000
	DefaultEmbeddedMaxStore = 1 << 40 // 1 TiB: the disk is the limit
	DefaultDLQStream        = "DLQ"
	DefaultDLQMaxAge        = 30 * 24 * time.Hour
	DefaultAdminListen      = "127.0.0.1:8080"
	DefaultConcurrency      = 16
	// DeliveryDedicated and DeliveryShared are the two ways to feed a sink.
	DeliveryDedicated     = "dedicated"
	DeliveryShared        = "shared"
	DefaultTimeout        = 15 * time.Second
	DefaultJitter         = 0.2
	DefaultMaxRetryAfter  = time.Hour
	DefaultShutdownGrace  = 25 * time.Second
	DefaultBatchWait      = 20 * time.Millisecond
	DefaultAttemptsMaxAge = 72 * time.Hour

	DefaultBreakerConsecutive = 10
	DefaultBreakerRate        = 0.5
	DefaultBreakerWindow      = time.Minute
	DefaultBreakerMinRequests = 20
	DefaultBreakerCoolDown    = 30 * time.Second
	// SubjectPrefix is subject.EventsPrefix, kept for pkg/dispatch; new
	// code calls package subject.
	SubjectPrefix = subject.EventsPrefix
)

// Defaults returns the config an empty file gives: every default set.
func Defaults() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// SinkDefaults returns a sink with nothing set but the common defaults,
// as a sink of kind k (nil: of no kind) takes them.
func SinkDefaults(k Kind) Sink {
	var s Sink
	if k != nil {
		s.Dest.Kind, s.Dest.kind = k.Name(), k
	}
	s.applyDefaults()
	return s
}

func (c *Config) applyDefaults() {
	e := &c.NATS.Embedded
	if e.Listen == "" {
		e.Listen = DefaultListen
	}
	if e.StoreDir == "" {
		e.StoreDir = DefaultStoreDir
	}
	s := &c.Stream
	if s.Name == "" {
		s.Name = DefaultStreamName
	}
	if len(s.Subjects) == 0 {
		s.Subjects = subject.StreamDefaults()
	}
	if s.MaxAge.D == 0 {
		s.MaxAge.D = DefaultMaxAge
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	if s.MaxConsumers == 0 {
		s.MaxConsumers = DefaultMaxConsumers
	}
	if s.DuplicateWindow.D == 0 {
		s.DuplicateWindow.D = DefaultDupWindow
	}
	if c.DeadLetters.Stream == "" {
		c.DeadLetters.Stream = DefaultDLQStream
	}
	if c.DeadLetters.MaxAge.D == 0 {
		c.DeadLetters.MaxAge.D = DefaultDLQMaxAge
	}
	if c.Attempts.MaxAge.D == 0 {
		c.Attempts.MaxAge.D = DefaultAttemptsMaxAge
	}
	for _, b := range []struct {
		f   *ByteSize
		def int64
	}{{&c.Stream.MaxBytes, DefaultStreamMaxBytes}, {&c.DeadLetters.MaxBytes, DefaultDLQMaxBytes}, {&c.Attempts.MaxBytes, DefaultAttemptsMaxBytes}} {
		if b.f.N == 0 {
			b.f.N = b.def
		}
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = DefaultAdminListen
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.ShutdownGrace.D == 0 {
		c.ShutdownGrace.D = DefaultShutdownGrace
	}
	for i := range c.Sinks {
		c.Sinks[i].applyDefaults()
	}
	c.applyIngestDefaults()
}

func (s *Sink) applyDefaults() {
	if s.Dest.kind != nil {
		s.Dest.kind.SinkDefaults(s)
	}
	if s.Delivery == "" {
		s.Delivery = DeliveryDedicated
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.Retry.Schedule == nil {
		for _, d := range DefaultSchedule {
			s.Retry.Schedule = append(s.Retry.Schedule, Duration{d})
		}
	}
	if s.Retry.Jitter == nil {
		j := DefaultJitter
		s.Retry.Jitter = &j
	}
	if s.Retry.MaxRetryAfter.D == 0 {
		s.Retry.MaxRetryAfter.D = DefaultMaxRetryAfter
	}
	if s.Batch.MaxWait.D == 0 {
		s.Batch.MaxWait.D = DefaultBatchWait
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = max(1000, 100*s.Concurrency)
	}
	b := &s.Breaker
	if b.Enabled == nil {
		off := false
		b.Enabled = &off
	}
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = DefaultBreakerConsecutive
	}
	if b.FailureRate == 0 {
		b.FailureRate = DefaultBreakerRate
	}
	if b.Window.D == 0 {
		b.Window.D = DefaultBreakerWindow
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultBreakerMinRequests
	}
	if b.CoolDown.D == 0 {
		b.CoolDown.D = DefaultBreakerCoolDown
	}
	timeout := s.Timeout()
	if s.AckWait.D == 0 {
		// Two timeouts: one delivery plus time queued behind the sink's
		// concurrency limit before the dispatcher starts the clock's refresh.
		s.AckWait.D = 2 * timeout
		if s.AckWait.D < 5*time.Second {
			s.AckWait.D = 5 * time.Second
		}
	}
}
