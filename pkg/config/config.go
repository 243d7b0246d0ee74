// Package config reads Switchyard's YAML: strict decoding (unknown fields
// are errors), ${ENV} expansion, defaults and validation, with every
// problem reported as FILE:LINE: field: message.
package config

import "time"

// Config is a whole configuration file.
type Config struct {
	NATS          NATS     `yaml:"nats"`
	Stream        Stream   `yaml:"stream"`
	DeadLetters   DLQ      `yaml:"dead_letters"`
	Admin         Admin    `yaml:"admin"`
	Log           Log      `yaml:"log"`
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	Sinks         []Sink   `yaml:"sinks"`

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
}

// DLQ is the stream that keeps dead letters.
type DLQ struct {
	Stream string   `yaml:"stream"`
	MaxAge Duration `yaml:"max_age"`
}

// Admin is the HTTP admin API.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
}

// Log sets up log/slog.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Sink is one destination with its own durable consumer.
type Sink struct {
	Name        string   `yaml:"name"`
	Events      []string `yaml:"events"`
	Concurrency int      `yaml:"concurrency"`
	Retry       Retry    `yaml:"retry"`
	// AckWait is how long JetStream waits for a settle before it assumes the
	// gateway died and redelivers. It must outlast one delivery.
	AckWait Duration `yaml:"ack_wait"`
	// MaxAckPending bounds events handed out and not yet settled, those
	// waiting for a retry included. It must be well above Concurrency, or a
	// handful of events waiting out their retry delay stall the whole sink.
	MaxAckPending int `yaml:"max_ack_pending"`

	Webhook *Webhook `yaml:"webhook"`
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

// Webhook is a signed HTTPS destination.
type Webhook struct {
	URL                  string            `yaml:"url"`
	Secrets              []string          `yaml:"secrets"`
	Timeout              Duration          `yaml:"timeout"`
	Headers              map[string]string `yaml:"headers"`
	TLS                  TLS               `yaml:"tls"`
	AllowPrivateNetworks bool              `yaml:"allow_private_networks"`
	// Body is "envelope" (JSON with id, type, timestamp, data) or "raw"
	// (the producer's bytes unchanged).
	Body string `yaml:"body"`
}

// Kind names the sink's destination type.
func (s *Sink) Kind() string {
	if s.Webhook != nil {
		return "webhook"
	}
	return ""
}

// Defaults, documented in README.md's config reference.
var (
	DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
		5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}
)

const (
	DefaultListen         = "127.0.0.1:4222"
	DefaultStoreDir       = "./data"
	DefaultStreamName     = "EVENTS"
	DefaultSubjectPrefix  = "events."
	DefaultMaxAge         = 168 * time.Hour
	DefaultDupWindow      = 2 * time.Minute
	DefaultDLQStream      = "DLQ"
	DefaultDLQMaxAge      = 30 * 24 * time.Hour
	DefaultAdminListen    = "127.0.0.1:8080"
	DefaultConcurrency    = 16
	DefaultTimeout        = 15 * time.Second
	DefaultJitter         = 0.2
	DefaultMaxRetryAfter  = time.Hour
	DefaultShutdownGrace  = 25 * time.Second
	DefaultWebhookBody    = "envelope"
	SubjectPrefix         = DefaultSubjectPrefix
	RedriveSubjectPrefix  = "switchyard.redrive."
	DeadLetterSubjectBase = "dlq."
)

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
		s.Subjects = []string{DefaultSubjectPrefix + ">"}
	}
	if s.MaxAge.D == 0 {
		s.MaxAge.D = DefaultMaxAge
	}
	if s.Replicas == 0 {
		s.Replicas = 1
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
}

func (s *Sink) applyDefaults() {
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
	timeout := DefaultTimeout
	if w := s.Webhook; w != nil {
		if w.Timeout.D == 0 {
			w.Timeout.D = DefaultTimeout
		}
		if w.Body == "" {
			w.Body = DefaultWebhookBody
		}
		timeout = w.Timeout.D
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = max(1000, 100*s.Concurrency)
	}
	if s.AckWait.D == 0 {
		// Two timeouts: one delivery plus time queued behind the sink's
		// concurrency limit before the dispatcher starts the clock's refresh.
		s.AckWait.D = 2 * timeout
		if s.AckWait.D < 5*time.Second {
			s.AckWait.D = 5 * time.Second
		}
	}
}
