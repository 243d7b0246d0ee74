package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/redact"
	"github.com/switchyard-dev/switchyard/pkg/signing"
)

// JetStream consumer and stream names may not hold these; sink names become
// durable consumer names, so the same rule applies.
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
		if !strings.HasPrefix(s, SubjectPrefix) || validFilter(strings.TrimPrefix(s, SubjectPrefix)) != nil {
			p.at(fmt.Sprintf("stream.subjects[%d]", i), "%q: subjects must be under %q (the rest is the event type)", s, SubjectPrefix+">")
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
		s.validate(p, field)
	}
	c.validateLimits(p)
}

func (s *Sink) validate(p *parser, field string) {
	switch {
	case s.Name == "":
		p.at(field+".name", "missing: every sink needs a unique name")
	case !nameRE.MatchString(s.Name):
		p.at(field+".name", "%q: use 1 to 64 letters, digits, - and _ (it names the durable consumer)", s.Name)
	}
	if len(s.Events) == 0 {
		p.at(field+".events", "missing: list the event types this sink receives, e.g. [\"order.*\"] or [\">\"]")
	}
	for i, f := range s.Events {
		if err := validFilter(f); err != nil {
			p.at(fmt.Sprintf("%s.events[%d]", field, i), "invalid event filter %q: %v", f, err)
			continue
		}
		for j := 0; j < i; j++ {
			if validFilter(s.Events[j]) == nil && filtersOverlap(s.Events[j], f) {
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
	kinds := 0
	if s.Webhook != nil {
		kinds++
		s.Webhook.validate(p, field+".webhook")
	}
	if s.EventBridge != nil {
		kinds++
		s.EventBridge.validate(p, field+".eventbridge")
	}
	if s.PubSub != nil {
		kinds++
		s.PubSub.validate(p, field+".pubsub")
	}
	if s.GoCloud != nil {
		kinds++
		s.GoCloud.validate(p, field+".gocloud")
	}
	if kinds != 1 {
		p.at(field, "needs exactly one destination block (webhook, eventbridge, pubsub or gocloud), has %d", kinds)
	} else if s.AckWait.D <= s.Timeout() {
		p.at(field+".ack_wait", "%s must be longer than the %s timeout (%s), or JetStream redelivers while a delivery is still running", s.AckWait, s.Kind(), s.Timeout())
	}
}

func (e *EventBridge) validate(p *parser, field string) {
	switch {
	case e.Source == "":
		p.at(field+".source", "missing: the PutEvents Source, e.g. com.example.switchyard")
	case strings.HasPrefix(e.Source, "aws."):
		p.at(field+".source", "%q: sources starting with \"aws.\" are reserved for AWS services", e.Source)
	}
	if e.DetailType != "" {
		if _, err := template.New("detail_type").Option("missingkey=error").Parse(e.DetailType); err != nil {
			p.at(field+".detail_type", "bad template: %v", err)
		}
	}
	if e.Endpoint != "" {
		if u, err := url.Parse(e.Endpoint); err != nil || u.Host == "" {
			p.at(field+".endpoint", "%q is not a URL such as http://127.0.0.1:5000", e.Endpoint)
		}
	}
	if e.RoleARN != "" && !strings.HasPrefix(e.RoleARN, "arn:") {
		p.at(field+".role_arn", "%q is not an ARN", e.RoleARN)
	}
}

func (ps *PubSub) validate(p *parser, field string) {
	if ps.Project == "" {
		p.at(field+".project", "missing: the Google Cloud project id")
	}
	if ps.Topic == "" {
		p.at(field+".topic", "missing: the topic id (or projects/P/topics/T)")
	}
	if ps.OrderingKey != "" {
		if _, err := template.New("ordering_key").Parse(ps.OrderingKey); err != nil {
			p.at(field+".ordering_key", "bad template: %v", err)
		}
	}
	p.fileExists(field+".credentials_file", ps.CredentialsFile)
}

// GoCloudSchemes are the gocloud.dev/pubsub URL schemes compiled in.
var GoCloudSchemes = []string{"awssns", "awssqs", "azuresb", "gcppubsubv2", "kafka", "mem", "nats", "rabbit"}

func (g *GoCloud) validate(p *parser, field string) {
	u, err := url.Parse(g.URL)
	switch {
	case g.URL == "":
		p.at(field+".url", "missing: a gocloud.dev/pubsub topic URL such as awssqs://… or kafka://topic")
	case err != nil:
		p.at(field+".url", "%v", err)
	case !slices.Contains(GoCloudSchemes, u.Scheme):
		p.at(field+".url", "scheme %q is not one of %s", u.Scheme, strings.Join(GoCloudSchemes, ", "))
	}
}

func (w *Webhook) validate(p *parser, field string) {
	u, err := url.Parse(w.URL)
	switch {
	case w.URL == "":
		p.at(field+".url", "missing: the HTTPS endpoint to deliver to")
	case err != nil:
		p.at(field+".url", "%v", err)
	case u.Scheme != "https" && u.Scheme != "http":
		p.at(field+".url", "%q: scheme must be https (or http)", redact.URL(w.URL))
	case u.Host == "":
		p.at(field+".url", "%q: no host", redact.URL(w.URL))
	case strings.Contains(u.Hostname(), "%"):
		// A zone picks a local interface (fe80::1%eth0): never a public
		// receiver, and a way around address checks.
		p.at(field+".url", "%q: the host names a network interface (IPv6 zone); use an address or name without %%zone", redact.URL(w.URL))
	}
	if len(w.Secrets) == 0 {
		p.at(field+".secrets", "missing: at least one signing secret (whsec_…)")
	}
	for i, s := range w.Secrets {
		if err := signing.ParseKey(s); err != nil {
			p.at(fmt.Sprintf("%s.secrets[%d]", field, i), "%v", err)
		}
	}
	if w.Body != "envelope" && w.Body != "raw" {
		p.at(field+".body", "must be envelope or raw, got %q", w.Body)
	}
	for k := range w.Headers {
		if strings.HasPrefix(strings.ToLower(k), "webhook-") {
			p.at(field+".headers."+k, "webhook-* headers are set by the signer and cannot be overridden")
		}
	}
	p.tls(field+".tls", w.TLS)
}

func (p *parser) tls(field string, t TLS) {
	p.fileExists(field+".ca_file", t.CAFile)
	p.fileExists(field+".cert_file", t.CertFile)
	p.fileExists(field+".key_file", t.KeyFile)
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.at(field, "cert_file and key_file go together")
	}
}

func (p *parser) fileExists(field, path string) {
	if path == "" {
		return
	}
	if _, err := os.Stat(path); err != nil {
		p.at(field, "%v", err)
	}
}

// validFilter checks NATS wildcard syntax: non-empty dot-separated tokens,
// "*" as a whole token, ">" only as the last token.
func validFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(f, " \t\r\n") {
		return fmt.Errorf("contains white space")
	}
	tokens := strings.Split(f, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("empty token (leading, trailing or double dot)")
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("\">\" must be the last token")
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return fmt.Errorf("wildcards must be whole tokens, as in order.* or order.>")
		}
	}
	return nil
}

// FilterSubjects maps a sink's event filters to stream subjects.
func (s *Sink) FilterSubjects() []string {
	out := make([]string, len(s.Events))
	for i, f := range s.Events {
		out[i] = SubjectPrefix + f
	}
	return out
}

// filtersOverlap reports whether some subject matches both filters;
// JetStream refuses a consumer whose filter subjects overlap.
func filtersOverlap(a, b string) bool {
	at, bt := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		switch {
		case i == len(at) && i == len(bt):
			return true
		case i == len(at) || i == len(bt):
			return false
		case at[i] == ">" || bt[i] == ">":
			return true
		case at[i] != "*" && bt[i] != "*" && at[i] != bt[i]:
			return false
		}
	}
}

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
