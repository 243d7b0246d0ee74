package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/eventlog"
	"github.com/switchyard-dev/switchyard/pkg/gateway"
)

// Every internal stream has a byte limit; events and dead letters are
// never discarded to make room (a full stream refuses the write), the
// attempt log drops its oldest records.
func TestEveryInternalStreamIsBounded(t *testing.T) {
	if config.AttemptsStreamName != attempts.StreamName || config.RedriveStreamName != bus.RedriveStream || config.StateBucketName != bus.StateBucket {
		t.Fatalf("config's reserved names are out of step with the streams: %q %q %q", config.AttemptsStreamName, config.RedriveStreamName, config.StateBucketName)
	}
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: "stream: {max_bytes: 300MiB}\ndead_letters: {max_bytes: 20MiB}\nattempts: {max_bytes: 10MiB}", Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	want := map[string]struct {
		bytes   int64
		discard jetstream.DiscardPolicy
	}{
		"EVENTS":                {300 << 20, jetstream.DiscardNew},
		"DLQ":                   {20 << 20, jetstream.DiscardNew},
		bus.RedriveStream:       {20 << 20, jetstream.DiscardNew},
		attempts.StreamName:     {10 << 20, jetstream.DiscardOld},
		"KV_" + bus.StateBucket: {config.StateMaxBytes, jetstream.DiscardNew},
	}
	for name, w := range want {
		s, err := g.Bus().JS.Stream(context.Background(), name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		c := s.CachedInfo().Config
		if c.MaxBytes != w.bytes || c.Discard != w.discard {
			t.Errorf("stream %s: max_bytes %d discard %v, want %d %v", name, c.MaxBytes, c.Discard, w.bytes, w.discard)
		}
	}
}

// fillAttempts writes n attempt records for sink s straight to the log.
func fillAttempts(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	l := &attempts.Log{JS: g.Bus().JS}
	for i := 0; i < n; i++ {
		if err := l.Record(attempts.Record{EventID: fmt.Sprintf("e%d", i), Sink: "s", Type: "order.created", Attempt: 1,
			Time: time.Now(), Outcome: "delivered", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close() // the last batches
	select {
	case <-g.Bus().JS.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("attempt records not stored")
	}
}

// fillDeadLetters stores n dead letters of sink s.
func fillDeadLetters(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		m := nats.NewMsg(bus.DeadLetterSubject("s"))
		m.Header.Set(event.HeaderOrigSubject, "events.order.created")
		m.Header.Set(deadletter.HeaderReason, "gone")
		m.Data = []byte(`{}`)
		if _, err := g.Bus().JS.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 { // stay under the client's limit of outstanding async publishes
			select {
			case <-g.Bus().JS.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
				t.Fatal("dead letters not stored")
			}
		}
	}
	select {
	case <-g.Bus().JS.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("dead letters not stored")
	}
}

// limit=0 (or none) on the list endpoints is a default page, and no page
// is larger than the maximum: a request never loads a whole stream.
func TestListEndpointsArePaged(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	fillAttempts(t, g, admin.MaxPageSize+50)
	fillDeadLetters(t, g, admin.MaxPageSize+50)
	for _, c := range []struct {
		path string
		want int
	}{
		{"/v1/attempts", admin.DefaultPageSize},
		{"/v1/attempts?limit=0", admin.DefaultPageSize},
		{"/v1/attempts?limit=7", 7},
		{"/v1/attempts?limit=100000", admin.MaxPageSize},
		{"/v1/sinks/s/dead-letters", admin.DefaultPageSize},
		{"/v1/sinks/s/dead-letters?limit=0", admin.DefaultPageSize},
		{"/v1/sinks/s/dead-letters?limit=100000", admin.MaxPageSize},
	} {
		var recs []json.RawMessage
		if code := adminDo(t, g, "GET", c.path, &recs); code != 200 || len(recs) != c.want {
			t.Errorf("GET %s: %d, %d records, want %d", c.path, code, len(recs), c.want)
		}
	}
}

// A scan stops when its request is canceled, rather than reading the
// whole stream for a client that has gone: canceled once it has read its
// first message, it returns the context's error having taken at most the
// one message in hand when the cancel came. Counted, not timed, so a slow
// or a fast machine proves the same.
func TestScansStopWhenTheRequestIsCanceled(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	fillAttempts(t, g, 30000)
	fillDeadLetters(t, g, 30000)
	scans := map[string]func(context.Context, jetstream.JetStream) error{
		"attempts": func(ctx context.Context, js jetstream.JetStream) error {
			ev := g.Admin().Events.(eventlog.Events) // the gateway's own, reading through js
			ev.Log = &attempts.Log{JS: js}
			_, err := ev.Attempts(ctx, attempts.Query{Type: "nothing.matches"})
			return err
		},
		"dead letters": func(ctx context.Context, js jetstream.JetStream) error {
			desk := g.Admin().DeadLetters.(deadletter.Desk) // the gateway's own, reading through js
			store := *desk.Store
			store.JS = js
			desk.Store = &store
			_, err := desk.DeadLetters(ctx, "s", deadletter.Filter{Type: "nothing.matches"})
			return err
		},
	}
	for name, scan := range scans {
		ctx, cancel := context.WithCancel(context.Background())
		reads := newCancelingReads(t, g.Bus().JS, cancel)
		err := scan(ctx, reads)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: scan canceled after its first read returned %v; want the context's error", name, err)
		}
		if n := reads.after.Load(); n > 1 {
			t.Errorf("%s: scan read %d stream messages after its request was canceled; want at most the one in hand", name, n)
		}
		if reads.taken.Load() < 1 {
			t.Errorf("%s: scan read nothing: the cancel came before the scan, proving nothing", name)
		}
	}
}

// cancelingReads is the gateway's JetStream with the messages of every
// ordered consumer (a scan's reader) handed over one by one and counted:
// once the first is taken it cancels the scan's context, and it counts
// the messages the scan still takes after that.
type cancelingReads struct {
	jetstream.JetStream
	cancel       context.CancelFunc
	taken, after atomic.Int64
	stop         chan struct{} // closed at cleanup: forwarders nobody reads from end
}

func newCancelingReads(t *testing.T, js jetstream.JetStream, cancel context.CancelFunc) *cancelingReads {
	r := &cancelingReads{JetStream: js, cancel: cancel, stop: make(chan struct{})}
	t.Cleanup(func() { close(r.stop) })
	return r
}

func (r *cancelingReads) OrderedConsumer(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	c, err := r.JetStream.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	return countedConsumer{Consumer: c, r: r}, nil
}

type countedConsumer struct {
	jetstream.Consumer
	r *cancelingReads
}

func (c countedConsumer) Fetch(n int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	b, err := c.Consumer.Fetch(n, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan jetstream.Msg) // unbuffered: a message sent is a message the scan took
	go func() {
		defer close(out)
		for m := range b.Messages() {
			canceled := c.r.taken.Load() >= 1
			if canceled {
				c.r.cancel()
			}
			select {
			case out <- m:
				c.r.taken.Add(1)
				if canceled {
					c.r.after.Add(1)
				}
			case <-c.r.stop:
				return
			}
		}
	}()
	return countedBatch{MessageBatch: b, out: out}, nil
}

type countedBatch struct {
	jetstream.MessageBatch
	out chan jetstream.Msg
}

func (b countedBatch) Messages() <-chan jetstream.Msg { return b.out }
