package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// ingestServer is the ingest API's listener (ingest.listen), apart from
// the admin API so producers can reach one without the other.
type ingestServer struct {
	ln  net.Listener
	srv *http.Server
}

// openIngest builds the ingest handler and binds its listener; nothing
// when ingest.listen is empty. Tokens and source secrets stay in the
// handler (hashed or as keys) and are never logged.
func (g *Gateway) openIngest() error {
	in := g.cfg.Ingest
	if in.Listen == "" {
		return nil
	}
	// A JetStream context of its own: its async publish window is not
	// shared with the attempt log's.
	js, err := jetstream.New(g.bus.Conn)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	h, err := ingest.New(ingest.Options{
		JS: js, Stream: g.cfg.Stream.Name, Tokens: in.Tokens, Sources: g.cfg.Sources, MaxBody: in.MaxBody.N,
		Registerer: g.metrics.Registry, Logger: g.log.With("component", "ingest"),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", in.Listen)
	if err != nil {
		return fmt.Errorf("ingest listen: %w", err)
	}
	g.ingest = &ingestServer{ln: ln, srv: newHTTPServer(h, ingestTimeouts)}
	return nil
}

// serveIngest serves the ingest API; the channel reports its failure (nil
// channel when ingest is off, which never fires).
func (g *Gateway) serveIngest() <-chan error {
	if g.ingest == nil {
		return nil
	}
	errc := make(chan error, 1)
	g.log.Info("ingest API listening", "addr", g.ingest.ln.Addr().String(), "tokens", len(g.cfg.Ingest.Tokens), "sources", len(g.cfg.Sources))
	go func() {
		if err := g.ingest.srv.Serve(g.ingest.ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("ingest server: %w", err)
		}
	}()
	return errc
}

// shutdownIngest stops accepting and lets requests in flight get their
// PubAcks and answers, before the connection closes.
func (g *Gateway) shutdownIngest(ctx context.Context) {
	if g.ingest != nil {
		_ = g.ingest.srv.Shutdown(ctx)
	}
}

// closeIngest closes the listener of a gateway that never ran.
func (g *Gateway) closeIngest() {
	if g.ingest != nil {
		_ = g.ingest.ln.Close()
	}
}

// IngestAddr is the ingest API's bound address, "" when it is off.
func (g *Gateway) IngestAddr() string {
	if g.ingest == nil {
		return ""
	}
	return g.ingest.ln.Addr().String()
}
