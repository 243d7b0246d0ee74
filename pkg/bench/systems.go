package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// subject is what the benchmark publishes to (type "bench.created").
const subject = "events.bench.created"

// benchSecret signs the product's webhooks (the Standard Webhooks test
// vector's key). The receiver does not verify: the bare loop sends
// unsigned, and signing is part of what the product costs.
const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// system is one side of the comparison: a JetStream that the publisher
// fills, and something that delivers from it to the receiver once started.
type system interface {
	name() string
	natsURL() string
	start(ctx context.Context) error
	// pullStalls counts the pulls that went unanswered so far (nextMsg).
	pullStalls() int64
	close()
}

// bareLoop is the ceiling: an embedded nats-server, one stream, and per
// sink a durable pull consumer with C workers that POST the bytes with a
// plain keep-alive net/http client and Ack after a 2xx. No envelope, no
// signature, no metrics, no attempt log, no breaker.
type bareLoop struct {
	o       Options
	rc      *receiver
	dir     string
	ns      *server.Server
	nc      *nats.Conn
	cons    []jetstream.Consumer
	its     []jetstream.MessagesContext
	clients []*http.Client
	dest    *cloudDest    // cloud modes
	senders []cloudSender // cloud modes, per sink
	stalls  atomic.Int64  // pulls that went unanswered (nextMsg)
	wg      sync.WaitGroup
}

func newBare(ctx context.Context, o Options, rc *receiver, dest *cloudDest) (_ *bareLoop, err error) {
	b := &bareLoop{o: o, rc: rc, dest: dest}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.dir, err = os.MkdirTemp("", "switchyard-bench-bare-"); err != nil {
		return nil, err
	}
	b.ns, err = server.NewServer(&server.Options{ServerName: "bench-bare", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: b.dir, JetStreamMaxStore: 1 << 40, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, err
	}
	go b.ns.Start()
	if !b.ns.ReadyForConnections(15 * time.Second) {
		return nil, errors.New("bare: nats-server not ready after 15s")
	}
	if b.nc, err = nats.Connect(b.ns.ClientURL(), nats.InProcessServer(b.ns)); err != nil {
		return nil, err
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, err
	}
	if _, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"},
		Storage: jetstream.FileStorage, Duplicates: config.DefaultDupWindow, Discard: jetstream.DiscardNew}); err != nil {
		return nil, err
	}
	for k := range o.Sinks {
		// The same MaxAckPending as a product sink's default.
		c, err := js.CreateOrUpdateConsumer(ctx, "EVENTS", jetstream.ConsumerConfig{Durable: "bare" + strconv.Itoa(k),
			FilterSubject: "events.>", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
			MaxAckPending: max(1000, 100*o.Concurrency)})
		if err != nil {
			return nil, err
		}
		b.cons = append(b.cons, c)
		switch o.Sink {
		case "eventbridge":
			b.senders = append(b.senders, newEBSender(dest, k))
			continue
		case "pubsub":
			s, err := newPSSender(ctx, dest, k)
			if err != nil {
				return nil, err
			}
			b.senders = append(b.senders, s)
			continue
		}
		b.clients = append(b.clients, &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 2 * o.Concurrency, MaxIdleConnsPerHost: 2 * o.Concurrency, IdleConnTimeout: time.Minute}})
	}
	return b, nil
}

func (b *bareLoop) name() string      { return "bare" }
func (b *bareLoop) pullStalls() int64 { return b.stalls.Load() }
func (b *bareLoop) natsURL() string   { return b.ns.ClientURL() }

func (b *bareLoop) start(ctx context.Context) error {
	for k, c := range b.cons {
		it, err := c.Messages(jetstream.PullMaxMessages(2*b.o.Concurrency), jetstream.PullHeartbeat(bareHeartbeat))
		if err != nil {
			return err
		}
		b.its = append(b.its, it)
		if b.dest != nil {
			batch := ebBatch
			if b.o.Sink == "pubsub" {
				batch = psBatch
			}
			b.runCloudWorkers(ctx, it, b.senders[k], batch)
			continue
		}
		url, client := b.rc.url(k), b.clients[k]
		for range b.o.Concurrency {
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				for {
					m, ok := nextMsg(it, &b.stalls)
					if !ok {
						return
					}
					req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Data()))
					if err != nil {
						_ = m.Nak()
						continue
					}
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("webhook-id", m.Headers().Get(nats.MsgIdHdr))
					resp, err := client.Do(req)
					if err != nil {
						_ = m.Nak()
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode/100 == 2 {
						_ = m.Ack()
					} else {
						_ = m.Nak()
					}
				}
			}()
		}
	}
	return nil
}

func (b *bareLoop) close() {
	for _, it := range b.its {
		it.Stop()
	}
	b.wg.Wait()
	for _, c := range b.clients {
		c.CloseIdleConnections()
	}
	for _, s := range b.senders {
		s.close()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// product is the real gateway: embedded JetStream in a fresh directory,
// K webhook sinks to the receiver (or K cloud sinks to the emulator), every other setting at its default
// (breaker and attempt log on).
type product struct {
	dir    string
	g      *gateway.Gateway
	cancel context.CancelFunc
	runErr chan error
}

// productConfig is the YAML the product runs with.
func productConfig(o Options, dir string, rc *receiver, dest *cloudDest) string {
	src := fmt.Sprintf("nats: {embedded: {listen: \"127.0.0.1:0\", store_dir: %q}}\nadmin: {listen: \"127.0.0.1:0\"}\nsinks:\n", dir)
	for k := range o.Sinks {
		if dest != nil {
			src += dest.sinkYAML(o, k)
			continue
		}
		src += fmt.Sprintf("  - name: bench%d\n    events: [\">\"]\n    concurrency: %d\n%s    webhook: {url: %q, secrets: [%q], allow_private_networks: true}\n",
			k, o.Concurrency, deliveryYAML(o), rc.url(k), benchSecret)
	}
	return src
}

// deliveryYAML is a product sink's delivery key, when the run sets one.
func deliveryYAML(o Options) string {
	if o.Delivery == "" {
		return ""
	}
	return "    delivery: " + o.Delivery + "\n"
}

func newProduct(ctx context.Context, o Options, rc *receiver, dest *cloudDest) (_ *product, err error) {
	p := &product{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.dir, err = os.MkdirTemp("", "switchyard-bench-product-"); err != nil {
		return nil, err
	}
	cfg, err := config.Parse("bench.yaml", []byte(productConfig(o, p.dir, rc, dest)), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	// New creates the sinks' consumers, which start at their creation
	// time: the backlog is published after this.
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.g, err = gateway.New(ctx, cfg, gateway.Options{Logger: log, Version: "bench"}); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *product) name() string      { return "product" }
func (p *product) pullStalls() int64 { return 0 } // it pulls with Fetch, each bounded by its own wait
func (p *product) natsURL() string   { return p.g.Bus().ClientURL() }

func (p *product) start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	p.runErr = make(chan error, 1)
	go func() { p.runErr <- p.g.Run(ctx) }()
	return nil
}

func (p *product) close() {
	if p.cancel != nil {
		p.cancel()
		select {
		case <-p.runErr:
		case <-time.After(time.Minute):
		}
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// publisher is a producer on its own connection over loopback TCP, the
// same for both systems. Each event's id (Nats-Msg-Id) is prefix+seq.
// Failed publishes are counted by the client's error handler, so nothing
// is kept per message in flight.
type publisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	failed atomic.Int64
	first  atomic.Pointer[error]
}

func newPublisher(url string) (*publisher, error) {
	nc, err := nats.Connect(url, nats.Name("switchyard-bench-publisher"))
	if err != nil {
		return nil, err
	}
	p := &publisher{nc: nc}
	p.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			p.failed.Add(1)
			p.first.CompareAndSwap(nil, &err)
		}))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

func (p *publisher) close() { p.nc.Close() }

// publish sends events [from, to) asynchronously, each body stamped with
// the time it is handed to the client.
func (p *publisher) publish(prefix string, from, to, size int) error {
	for i := from; i < to; i++ {
		m := &nats.Msg{Subject: subject, Header: nats.Header{}, Data: body(i, time.Now(), size)}
		m.Header.Set(nats.MsgIdHdr, prefix+strconv.Itoa(i))
		_, err := p.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Second))
		for tries := 0; errors.Is(err, jetstream.ErrTooManyStalledMsgs) && tries < 60; tries++ {
			// The server is behind (a busy machine): wait, do not fail.
			_, err = p.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Second))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// wait returns when every publish was acknowledged by JetStream.
func (p *publisher) wait(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if n := p.failed.Load(); n > 0 {
		return fmt.Errorf("%d publishes failed, the first: %w", n, *p.first.Load())
	}
	return nil
}

// backlog publishes n events and waits until they are stored.
func (p *publisher) backlog(ctx context.Context, prefix string, n, size int) error {
	if err := p.publish(prefix, 0, n, size); err != nil {
		return err
	}
	return p.wait(ctx)
}

// paced publishes n events at rate per second (in bursts of what is due
// each millisecond) and waits until they are stored.
func (p *publisher) paced(ctx context.Context, prefix string, n, size int, rate float64) error {
	start := time.Now()
	for i := 0; i < n; {
		due := min(n, int(time.Since(start).Seconds()*rate)+1)
		if err := p.publish(prefix, i, due, size); err != nil {
			return err
		}
		i = max(i, due)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return p.wait(ctx)
}
