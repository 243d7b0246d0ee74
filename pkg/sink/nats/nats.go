// Package nats is the sink driver that publishes events into a JetStream
// stream: on the gateway's own NATS (another stream of the same account),
// or on another server or account (bridging clusters). Each event keeps the
// headers a producer would set (Nats-Msg-Id is the event id, so the target
// stream drops a retried duplicate within its duplicate window) and its
// bytes unchanged; the subject carries the type.
package nats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/redact"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/sink/netguard"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// errCodeStreamMismatch is JetStream's "expected stream does not match":
// the subject is stored by another stream than Config.Stream.
const errCodeStreamMismatch jetstream.ErrorCode = 10060

// MaxBatch is how many events one Send publishes before waiting for the
// stream's acknowledgements.
const MaxBatch = 100

// Config is a nats sink's block.
type Config struct {
	// URL is the NATS server(s) to publish to; empty: the gateway's own
	// connection.
	URL       string     `yaml:"url"`
	CredsFile string     `yaml:"creds_file"`
	TLS       config.TLS `yaml:"tls"`
	// Subject is where events are published; a last token ">" stands for
	// the event type (bridge.> publishes order.created on
	// bridge.order.created).
	Subject string `yaml:"subject"`
	// Stream, when set, is the stream that must store the events: a
	// publish that another stream captures fails instead.
	Stream  string          `yaml:"stream"`
	Timeout config.Duration `yaml:"timeout"`
}

func init() {
	sink.Register(sink.Spec[Config]{
		Kind:    "nats",
		Summary: "Publish into a JetStream stream, on the gateway's NATS or another server or account",
		Fields: []config.FieldDoc{
			{Path: "url", Doc: "NATS URL(s) of another server or account; empty: the gateway's own connection"},
			{Path: "creds_file", Doc: "`.creds` file for `url`"},
			{Path: "tls.ca_file", Also: []string{"cert_file", "key_file"}, Doc: "CA and client certificate for `url`"},
			{Path: "subject", Required: true, Doc: "where events are published; a last token `>` stands for the event type (`bridge.>`); on the gateway's own NATS it may not overlap NATS's own subjects (any `$…` such as `$JS.>`, `$KV.>`, `$O.>`, `$SYS.>`, and `_INBOX.>`) or Switchyard's (the events stream's, `dlq.>`, `switchyard.>`)"},
			{Path: "stream", Doc: "the stream that must store the events (a publish another stream captures fails)"},
			{Path: "timeout", Doc: "per batch, until every event is stored"},
		},
		SecretURLs: []string{"url"},
		MaxBatch:   MaxBatch,
		Validate:   validate,
		APIUses:    apiUses,
		Open: func(ctx context.Context, c *Config, s config.Sink, env sink.Env) (sink.Driver, error) {
			return Open(ctx, *c, Options{Shared: env.NATS, Reserved: env.Reserved, Guard: s.Confined})
		},
	})
}

func validate(c *Config, chk *config.Check) {
	switch {
	case c.Subject == "":
		chk.At("subject", "missing: the subject to publish on, e.g. bridge.> (> stands for the event type)")
	case !server.IsValidSubject(c.Subject) || strings.Contains(c.Subject, "*") || strings.Contains(strings.TrimSuffix(c.Subject, ">"), ">"):
		chk.At("subject", "%q: a NATS subject without wildcards, but for a last token > that stands for the event type", c.Subject)
	case c.URL == "":
		// The same server and account: a subject a Switchyard stream
		// captures would feed the gateway its own deliveries, and one of
		// NATS's own would drive the server with the gateway's rights
		// ($JS.API.STREAM.PURGE.EVENTS purges the events stream).
		var streams []string
		if cfg := chk.Config(); cfg != nil {
			streams = cfg.Stream.Subjects
		}
		if r := subject.ReservedBy(c.Subject, subject.Reserved(streams)); r != "" {
			chk.At("subject", "%s; pick another subject, or set url for another server or account", reservedWhy(c.Subject, r))
		}
	}
	if c.URL != "" {
		for _, u := range strings.Split(c.URL, ",") {
			if !strings.Contains(u, "://") {
				chk.At("url", "%q is not a NATS URL such as nats://host:4222", redact.URL(u))
			}
		}
	}
	chk.File("creds_file", c.CredsFile)
	chk.TLS("tls", c.TLS)
}

// apiUses declares what api.allow governs beyond the fields named for it
// (creds_file, tls.*_file): a url whose host is a private or loopback
// address connects from the gateway's network position. A name is judged
// when dialed (Options.Guard).
func apiUses(c *Config) []config.Use {
	if c.URL == "" {
		return nil
	}
	for _, raw := range strings.Split(c.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			continue // validate reports it
		}
		if netguard.PrivateHost(u.Hostname()) {
			return []config.Use{{Field: "url", Allow: config.AllowPrivateNetworks,
				Why: fmt.Sprintf("connects to %s, a private or loopback address, from the gateway's network position", u.Hostname())}}
		}
	}
	return nil
}

// reservedWhy says why subj may not be published on: it overlaps r, a
// subject of NATS's or of Switchyard's.
func reservedWhy(subj, r string) string {
	if strings.HasPrefix(r, "$") || strings.HasPrefix(r, "_INBOX.") {
		return fmt.Sprintf("%q overlaps %q, which NATS itself serves on the gateway's connection (the JetStream API, KV buckets, object stores, the system account, replies): a sink may never publish there", subj, r)
	}
	return fmt.Sprintf("%q overlaps %q, which Switchyard's own streams capture on this NATS: its deliveries would come back to it (a loop)", subj, r)
}

// Driver publishes to one subject.
type Driver struct {
	sink.Base
	cfg Config
	js  jetstream.JetStream
	own *nc.Conn // closed by Close; nil when shared
	// reserved, on the shared connection, are the subjects never
	// published on, checked again on every publish: the event type
	// completes the subject, and a stored sink may predate the rule.
	reserved []string
	// refused, set, fails every send: the guard refused the url.
	refused error
}

var _ sink.Driver = (*Driver)(nil)

// Options are what the gateway hands the driver besides its block.
type Options struct {
	// Shared is the gateway's own connection, used when the block has no
	// url.
	Shared *nc.Conn
	// Reserved are the subjects never published on over Shared (nil:
	// subject.Reserved(nil)).
	Reserved []string
	// Guard dials the url's servers (and those the cluster announces
	// later) through the SSRF guard: an API sink without api.allow:
	// [private_networks].
	Guard bool
}

// New publishes on shared when cfg.URL is empty, or on a connection of its
// own to cfg.URL.
func New(ctx context.Context, cfg Config, shared *nc.Conn) (*Driver, error) {
	return Open(ctx, cfg, Options{Shared: shared})
}

// Open publishes on o.Shared when cfg.URL is empty, or on a connection of
// its own to cfg.URL.
func Open(ctx context.Context, cfg Config, o Options) (*Driver, error) {
	conn := o.Shared
	var own *nc.Conn
	if cfg.URL != "" {
		opts := []nc.Option{nc.Name("switchyard nats sink"), nc.MaxReconnects(-1)}
		if cfg.CredsFile != "" {
			opts = append(opts, nc.UserCredentials(cfg.CredsFile))
		}
		if cfg.TLS.CAFile != "" {
			opts = append(opts, nc.RootCAs(cfg.TLS.CAFile))
		}
		if cfg.TLS.CertFile != "" {
			opts = append(opts, nc.ClientCert(cfg.TLS.CertFile, cfg.TLS.KeyFile))
		}
		var guard *netguard.Dialer
		if o.Guard {
			guard = netguard.NewDialer(nc.DefaultTimeout)
			opts = append(opts, nc.SetCustomDialer(guard))
		}
		var err error
		if own, err = nc.Connect(cfg.URL, opts...); err != nil {
			if blocked := guard.Refused(); blocked != nil {
				// Refused at every send, as a webhook is: the sink runs
				// (a stored sink never stops a start or a reload) and its
				// events dead-letter with the reason.
				err = fmt.Errorf("nats sink: connect %s: %w", redact.URL(cfg.URL), blocked)
				return &Driver{cfg: cfg, refused: sink.PermanentError(0, err), Base: sink.NewBase(cfg.Timeout.D)}, nil
			}
			return nil, fmt.Errorf("nats sink: connect %s: %w", redact.URL(cfg.URL), redact.Error(err))
		}
		conn = own
	}
	if conn == nil {
		return nil, errors.New("nats sink: no url and no gateway connection to share")
	}
	js, err := jetstream.New(conn)
	if err != nil {
		if own != nil {
			own.Close()
		}
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	d := &Driver{cfg: cfg, js: js, own: own, Base: sink.NewBase(cfg.Timeout.D)}
	if own == nil {
		d.reserved = o.Reserved
		if d.reserved == nil {
			d.reserved = subject.Reserved(nil)
		}
	}
	return d, nil
}

// Subject is where an event of this type is published.
func (d *Driver) Subject(typ string) string {
	if p, ok := strings.CutSuffix(d.cfg.Subject, ">"); ok {
		return p + typ
	}
	return d.cfg.Subject
}

// Send publishes the batch and waits until the stream has stored each
// event; the failures are named by index.
func (d *Driver) Send(ctx context.Context, batch []*event.Event) error {
	return d.Batch(ctx, len(batch), func(ctx context.Context, be *sink.BatchError) {
		call, cancel := d.Within(ctx) // the timeout is per batch, until every event is stored
		defer cancel()
		if d.refused != nil {
			for i := range batch {
				be.Fail(i, d.refused)
			}
			return
		}
		var opts []jetstream.PublishOpt
		if d.cfg.Stream != "" {
			opts = append(opts, jetstream.WithExpectStream(d.cfg.Stream))
		}
		acks := make([]jetstream.PubAckFuture, len(batch))
		for i, e := range batch {
			h := nc.Header(e.PublishHeaders())
			if e.Tenant != "" {
				// Ids are the producers', unique per tenant at most: two
				// tenants' events of one id must both be stored. The scope
				// header lets a reader (another Switchyard) strip it again.
				scope := "tenant/" + e.Tenant + "/"
				h.Set(event.HeaderMsgID, scope+e.ID)
				h.Set(event.HeaderIDScope, scope)
				h.Set("Switchyard-Tenant", e.Tenant)
			}
			subj := d.Subject(e.Type)
			if r := subject.ReservedBy(subj, d.reserved); d.reserved != nil && r != "" {
				be.Fail(i, sink.PermanentError(0, errors.New("nats sink: refused to publish: "+reservedWhy(subj, r))))
				continue
			}
			m := &nc.Msg{Subject: subj, Header: h, Data: e.Data}
			a, err := d.js.PublishMsgAsync(m, opts...)
			if err != nil {
				be.Fail(i, d.Failed(ctx, call, err, classify))
			}
			acks[i] = a
		}
		for i, a := range acks {
			if a == nil {
				continue
			}
			select {
			case <-a.Ok():
			case err := <-a.Err():
				be.Fail(i, d.Failed(ctx, call, err, classify))
			case <-call.Done():
				be.Fail(i, d.Failed(ctx, call, call.Err(), classify))
			}
		}
	})
}

// classify reads a failed publish, neither canceled nor timed out.
func classify(err error) error {
	var api *jetstream.APIError
	switch {
	case errors.Is(err, nc.ErrMaxPayload),
		errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum || api.ErrorCode == errCodeStreamMismatch):
		return sink.PermanentError(0, err)
	case errors.Is(err, nc.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse):
		return sink.RetryableError(0, fmt.Errorf("no stream stores the subject (yet): %w", err))
	}
	return sink.RetryableError(0, err)
}

// Close cancels sends in flight, waits for them, and closes the connection
// it opened (never the gateway's).
func (d *Driver) Close(ctx context.Context) error {
	return d.Lifecycle.Close(func() error {
		if d.own != nil {
			return d.own.Drain()
		}
		return nil
	})
}
