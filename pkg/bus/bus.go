// Package bus owns Switchyard's link to NATS: it connects to an external
// server or embeds one; ensures the streams, the KV buckets (StateKV,
// SinksKV) and the per-sink consumers, each consumer stamped with the
// incarnation of the sink it serves (IncarnationOf, CheckIncarnation);
// retries JetStream calls while they fail transiently and says what it
// waits for, for /readyz (Retrier); and
// lists the subjects no sink may publish on over it (Reserved).
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/redact"
)

// Bus is a connection to JetStream, and the embedded server when there is one.
type Bus struct {
	Conn     *nats.Conn
	JS       jetstream.JetStream
	embedded *server.Server
	cfg      *config.Config
	// Retry waits out what a cluster recovers from (an election, a node
	// not up yet) in Open and the Ensure calls.
	Retry *Retrier
}

// Open connects as cfg says: to nats.url, or to a server embedded here.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Bus, error) {
	return OpenWith(ctx, cfg, log, &Retrier{Log: log})
}

// OpenWith is Open with the caller's Retrier, whose Waiting says what the
// bus is waiting for. Until nats.url answers, it retries the connection
// (the cluster may still be starting); an auth or TLS error ends it.
func OpenWith(ctx context.Context, cfg *config.Config, log *slog.Logger, r *Retrier) (*Bus, error) {
	b := &Bus{cfg: cfg, Retry: r}
	opts := []nats.Option{
		nats.Name("switchyard"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", redact.URL(c.ConnectedUrl())) }),
	}
	url := cfg.NATS.URL
	if url == "" {
		ns, err := startEmbedded(cfg.NATS.Embedded)
		if err != nil {
			return nil, err
		}
		b.embedded = ns
		url = ns.ClientURL()
		opts = append(opts, nats.InProcessServer(ns))
		log.Info("embedded nats-server started", "url", url, "store_dir", cfg.NATS.Embedded.StoreDir)
	} else {
		auth, err := authOptions(cfg.NATS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	var nc *nats.Conn
	err := r.Do(ctx, "nats connect "+redact.URL(url), func(context.Context) (err error) {
		nc, err = nats.Connect(url, opts...)
		return err
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: connect %s: %w", redact.URL(url), err)
	}
	b.Conn = nc
	b.JS, err = jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return b, nil
}

func authOptions(c config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey seed %s: %w", c.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	return opts, nil
}

func startEmbedded(e config.Embedded) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded listen %q: %w", e.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded listen %q: %w", e.Listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if e.MaxStore.N <= 0 {
		e.MaxStore.N = config.DefaultEmbeddedMaxStore
	}
	opts := &server.Options{
		ServerName: "switchyard-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   e.StoreDir,
		// Reservations of the streams' max_bytes count against this, not
		// the disk: see config.Embedded.MaxStore.
		JetStreamMaxStore: e.MaxStore.N,
		NoSigs:            true, // the gateway owns signals and stops the server itself
		NoLog:             true,
	}
	switch e.SyncInterval {
	case "":
	case "always":
		opts.SyncAlways = true
	default:
		d, err := time.ParseDuration(e.SyncInterval)
		if err != nil {
			return nil, fmt.Errorf("bus: sync_interval: %w", err)
		}
		opts.SyncInterval = d
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("bus: embedded server not ready after 15s (is the listen address free?)")
	}
	return ns, nil
}

// ClientURL is where producers reach this bus, for logs and messages: a
// password (or token) in it is masked.
func (b *Bus) ClientURL() string {
	if b.embedded != nil {
		return b.embedded.ClientURL()
	}
	return redact.URL(b.Conn.ConnectedUrl())
}

// Connected reports whether the NATS connection is up.
func (b *Bus) Connected() bool { return b.Conn != nil && b.Conn.IsConnected() }

// Close closes the connection (without draining it) and stops the
// embedded server.
func (b *Bus) Close() {
	if b.Conn != nil {
		b.Conn.Close()
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}
