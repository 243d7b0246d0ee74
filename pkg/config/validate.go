package config

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/redact"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// nameRE is what the config's names may be (streams, sinks, ingest tokens
// and sources): they end up in JetStream stream and consumer names, which
// may not hold anything else.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c *Config) validate(p *parser) {
	if c.NATS.URL == "" {
		if host, _, err := net.SplitHostPort(c.NATS.Embedded.Listen); err != nil {
			p.at("nats.embedded.listen", "must be host:port: %v", err)
		} else if !IsLoopbackHost(host) && !c.NATS.Embedded.InsecureNoAuth {
			p.at("nats.embedded.listen", "%q is not a loopback address: the embedded server has no authentication, so anyone who reaches it can publish and read every stream; listen on 127.0.0.1, use an external NATS with auth (nats.url), or set nats.embedded.insecure_no_auth: true", c.NATS.Embedded.Listen)
		}
		if si := c.NATS.Embedded.SyncInterval; si != "" && si != "always" {
			if d, err := time.ParseDuration(si); err != nil || d <= 0 {
				p.at("nats.embedded.sync_interval", "must be a positive duration or \"always\", got %q", si)
			}
		}
		if c.Stream.Replicas != 1 {
			p.at("stream.replicas", "the embedded server is a single node: replicas must be 1, got %d", c.Stream.Replicas)
		}
	} else {
		for _, u := range strings.Split(c.NATS.URL, ",") {
			if parsed, err := url.Parse(strings.TrimSpace(u)); err != nil || parsed.Host == "" {
				p.at("nats.url", "%q is not a NATS URL such as nats://host:4222", redact.URL(u))
			}
		}
		p.fileExists("nats.creds_file", c.NATS.CredsFile)
		p.fileExists("nats.nkey_seed_file", c.NATS.NKeyFile)
		p.tls("nats.tls", c.NATS.TLS)
	}
	if !nameRE.MatchString(c.Stream.Name) {
		p.at("stream.name", "%q: use letters, digits, - and _", c.Stream.Name)
	}
	if c.Stream.Replicas < 1 || c.Stream.Replicas > 5 {
		p.at("stream.replicas", "must be 1 to 5, got %d", c.Stream.Replicas)
	}
	for i, s := range c.Stream.Subjects {
		tenant, typ, ok := subject.Split(s)
		if !ok || subject.ValidFilter(typ) != nil || (tenant != "" && tenant != subject.AnyTenant && subject.ValidTenant(tenant) != nil) {
			p.at(fmt.Sprintf("stream.subjects[%d]", i), "%q: subjects must be under %q or %q (the rest is the event type)", s, subject.EventsPrefix, subject.TenantsPrefix+"<tenant>.")
		}
	}
	if !nameRE.MatchString(c.DeadLetters.Stream) || strings.EqualFold(c.DeadLetters.Stream, c.Stream.Name) {
		p.at("dead_letters.stream", "%q: must be a valid stream name other than the events stream", c.DeadLetters.Stream)
	}
	if host, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
		p.at("admin.listen", "must be host:port: %v", err)
	} else if !IsLoopbackHost(host) && c.Admin.Token == "" && !c.Admin.InsecureNoAuth {
		p.at("admin.listen", "%q is not a loopback address and admin.token is empty: anyone who reaches it could pause sinks, redrive and read events; set admin.token, listen on 127.0.0.1, or set admin.insecure_no_auth: true", c.Admin.Listen)
	}
	c.Admin.TLS.validate(p)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.at("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		p.at("log.format", "must be json or text, got %q", c.Log.Format)
	}
	seen := map[string]int{}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		field := fmt.Sprintf("sinks[%d]", i)
		if prev, dup := seen[s.Name]; dup && s.Name != "" {
			p.at(field+".name", "duplicate sink name %q (also sinks[%d])", s.Name, prev)
		}
		seen[s.Name] = i
		s.validate(p, field, c)
	}
	c.validateIngest(p)
	p.validateStrays(c)
	c.validateLimits(p)
	c.validateAPI(p)
	// One consumer per dedicated sink, one for the shared matchers and
	// room for a replay; shared sinks take none.
	dedicated := 0
	for i := range c.Sinks {
		if !c.Sinks[i].Shared() {
			dedicated++
		}
	}
	if c.Stream.MaxConsumers < dedicated+2 {
		p.at("stream.max_consumers", "%d is below the number of dedicated sinks (%d) plus the shared matchers' consumer and room for a replay", c.Stream.MaxConsumers, dedicated)
	}
}

func (s *Sink) validate(p *parser, field string, cfg *Config) {
	switch {
	case s.Name == "":
		p.at(field+".name", "missing: every sink needs a unique name")
	case subject.ValidName(s.Name) != nil:
		p.at(field+".name", "%q: use 1 to 64 letters, digits, - and _ (it names the durable consumer)", s.Name)
	}
	if s.Tenant != "" && s.Tenant != subject.AnyTenant {
		if err := subject.ValidTenant(s.Tenant); err != nil {
			p.at(field+".tenant", "%v, or \"*\" for every tenant", err)
		}
	}
	for k := range s.Metadata {
		if k == "" || len(k) > 256 {
			p.at(field+".metadata", "keys must be 1 to 256 characters")
		}
	}
	if s.Delivery != DeliveryDedicated && s.Delivery != DeliveryShared {
		p.at(field+".delivery", "%q: use %q or %q", s.Delivery, DeliveryDedicated, DeliveryShared)
	}
	if s.DisableAfter.D < 0 {
		p.at(field+".disable_after", "must not be negative")
	}
	if len(s.Events) == 0 {
		p.at(field+".events", "missing: list the event types this sink receives, e.g. [\"order.*\"] or [\">\"]")
	}
	for i, f := range s.Events {
		if err := subject.ValidFilter(f); err != nil {
			p.at(fmt.Sprintf("%s.events[%d]", field, i), "invalid event filter %q: %v", f, err)
			continue
		}
		for j := 0; j < i; j++ {
			if subject.ValidFilter(s.Events[j]) == nil && subject.Overlap(s.Events[j], f) {
				p.at(fmt.Sprintf("%s.events[%d]", field, i), "filter %q overlaps %q: JetStream needs disjoint filters, keep the wider one", f, s.Events[j])
			}
		}
	}
	if s.Concurrency < 1 || s.Concurrency > 10000 {
		p.at(field+".concurrency", "must be 1 to 10000, got %d", s.Concurrency)
	}
	if s.MaxAckPending < s.Concurrency {
		p.at(field+".max_ack_pending", "%d is below concurrency (%d): deliveries could never fill the concurrency", s.MaxAckPending, s.Concurrency)
	}
	for i, d := range s.Retry.Schedule {
		if d.D <= 0 {
			p.at(fmt.Sprintf("%s.retry.schedule[%d]", field, i), "delays must be positive")
		}
	}
	if j := *s.Retry.Jitter; j < 0 || j >= 1 {
		p.at(field+".retry.jitter", "must be in [0, 1), got %v", j)
	}
	if b := s.Breaker; b.FailureRate <= 0 || b.FailureRate > 1 {
		p.at(field+".breaker.failure_rate", "must be in (0, 1], got %v", b.FailureRate)
	}
	if s.Breaker.ConsecutiveFailures < 0 || s.Breaker.MinRequests < 0 {
		p.at(field+".breaker", "consecutive_failures and min_requests must not be negative")
	}
	if s.RateLimit != "" {
		if _, err := ParseRate(s.RateLimit); err != nil {
			p.at(field+".rate_limit", "%v", err)
		}
	}
	if s.RateLimitBurst < 0 {
		p.at(field+".rate_limit_burst", "must not be negative")
	}
	if s.Batch.MaxEvents < 0 {
		p.at(field+".batch.max_events", "must not be negative")
	}
	switch d := s.Dest; {
	case d.blocks != 1 || d.kind == nil:
		p.at(field, "needs exactly one destination block (%s), has %d", orList(kindNames(p.kinds)), d.blocks)
	default:
		dest := field + "." + d.Kind
		chk := NewCheck(func(f, msg string) { p.at(joinPath(dest, f), "%s", msg) }, cfg)
		chk.fromAPI = p.api != "" && field == p.api
		d.kind.Validate(d.Config, chk)
		if f := s.OrderedBy(); f != "" && s.Shared() {
			p.at(field+".delivery", "%q keeps no order of events per key, which %s asks for: use %q", DeliveryShared, f, DeliveryDedicated)
		}
		if s.AckWait.D <= s.Timeout() {
			p.at(field+".ack_wait", "%s must be longer than the %s timeout (%s), or JetStream redelivers while a delivery is still running", s.AckWait, s.Kind(), s.Timeout())
		}
	}
}

func (p *parser) tls(field string, t TLS) {
	NewCheck(func(f, msg string) { p.at(f, "%s", msg) }, nil).TLS(field, t)
}

func (p *parser) fileExists(field, path string) {
	if msg := fileProblem(path); msg != "" {
		p.at(field, "%s", msg)
	}
}

func fileProblem(path string) string {
	if path == "" {
		return ""
	}
	if _, err := os.Stat(path); err != nil {
		return err.Error()
	}
	return ""
}

// FilterSubjects maps a sink's event filters to stream subjects.
func (s *Sink) FilterSubjects() []string { return subject.TenantFilters(s.Tenant, s.Events) }

// ParseRate reads "200/s", "6000/m" or "100000/h" as events per second.
func ParseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
		return 0, fmt.Errorf("%q: write a positive rate such as 200/s, 6000/m or 100000/h", s)
	}
	switch strings.TrimSpace(unit) {
	case "s":
		return n, nil
	case "m":
		return n / 60, nil
	case "h":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("%q: the unit must be s, m or h", s)
}

// IsLoopbackHost reports whether host (no port) is "localhost" or a
// loopback address (127.0.0.0/8, ::1). An empty host means every
// interface, and any other name could resolve anywhere: neither is.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// validate checks that the admin listener's certificate and key load as a
// pair, so a bad file stops the start with its field, not the listener.
func (t AdminTLS) validate(p *parser) {
	p.tls("admin.tls", TLS{CertFile: t.CertFile, KeyFile: t.KeyFile})
	if t.CertFile == "" || t.KeyFile == "" || fileProblem(t.CertFile) != "" || fileProblem(t.KeyFile) != "" {
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		p.at("admin.tls", "not a certificate and key pair: %v", err)
	}
}
