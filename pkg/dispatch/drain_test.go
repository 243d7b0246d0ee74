package dispatch_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/dispatch"
	"github.com/switchyard-dev/switchyard/pkg/sink"
	"github.com/switchyard-dev/switchyard/pkg/telemetry"
)

// A message the server has sent to a dispatcher's pull, but that has not
// reached the dispatcher when it stops (on the wire, in the client's
// buffers), is not lost at the stop: the pull runs on briefly and is
// drained, the message is handed back at once with its handback recorded,
// and it keeps its whole retry budget. (A canceled client Fetch dropped
// it: it came back only after AckWait, its delivery counted as an
// attempt.) The proxy holds what the server sends from before the publish
// until the stop has begun: until the client unsubscribes (a canceled
// Fetch does at once, the drain at its end), or releaseAfter.
func TestInFlightToAStoppingPullIsHandedBack(t *testing.T) {
	r := run(t, func(string, int) error { return sink.RetryableError(503, errors.New("unavailable")) })
	r.stop() // the rig's own dispatcher; this test runs its own
	state, err := r.b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wire := newWireHold(t, r.b.Conn.ConnectedUrl())
	nc, err := nats.Connect(wire.url(), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	events, err := js.Consumer(t.Context(), "EVENTS", r.sink.Name)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := telemetry.NewMetrics()
	d := dispatch.New(handbackOptions(t, r.b, dispatch.Options{Sink: r.sink, Driver: r.drv, JS: js,
		Consumers: []jetstream.Consumer{events}, DLQ: r.dlq, Metrics: metrics, Logger: log}, state))
	stop := runDispatcher(t, d, 2*time.Second)
	testutil.WaitFor(t, 10*time.Second, "the dispatcher's pull waiting at the server", func() bool {
		info, err := r.b.JS.Consumer(t.Context(), "EVENTS", r.sink.Name)
		return err == nil && info.CachedInfo().NumWaiting > 0
	})

	wire.hold()
	r.publish(t, "in-flight")
	testutil.WaitFor(t, 10*time.Second, "the event sent to the pull", func() bool {
		c, err := r.b.JS.Consumer(t.Context(), "EVENTS", r.sink.Name)
		return err == nil && c.CachedInfo().NumAckPending == 1 && c.CachedInfo().Delivered.Consumer == 1
	})
	wire.releaseOnUnsub(releaseAfter)
	stop()
	if n := len(r.drv.attempts("in-flight")); n != 0 {
		t.Fatalf("%d attempts by a stopping dispatcher", n)
	}
	if _, err := state.Get(t.Context(), "handback.EVENTS."+r.sink.Name+".1"); err != nil {
		t.Fatalf("no handback recorded for the delivery in flight at the stop: %v", err)
	}

	// The next dispatcher makes every attempt of the schedule.
	d2 := dispatch.New(handbackOptions(t, r.b, dispatch.Options{Sink: r.sink, Driver: r.drv, JS: r.b.JS,
		Consumers: []jetstream.Consumer{events}, DLQ: r.dlq, Metrics: metrics, Logger: log}, state))
	defer runDispatcher(t, d2, 2*time.Second)()
	testutil.WaitFor(t, 10*time.Second, "the event dead-lettered", func() bool {
		recs, err := r.dlq.List(t.Context(), r.sink.Name, deadletter.Filter{})
		return err == nil && len(recs) == 1 && r.pending(t) == 0
	})
	if n, want := len(r.drv.attempts("in-flight")), r.sink.Retry.Attempts(); n != want {
		t.Errorf("%d real attempts before the dead letter, want the schedule's %d", n, want)
	}
}

// releaseAfter is how long the wire holds the server's messages once the
// stop has begun, when the client does not unsubscribe first: a slow
// network, within the pull's run after the stop (pullEndWait, 250ms).
const releaseAfter = 100 * time.Millisecond

// wireHold is a loopback proxy to a NATS server for one client
// connection. hold keeps back what the server sends, as a slow network
// would; releaseOnUnsub lets it through once the client next unsubscribes
// something, or after a delay.
type wireHold struct {
	ln     net.Listener
	target string

	mu      sync.Mutex // orders writes to the client
	client  net.Conn
	held    bool
	pending []byte
	armed   bool
}

func newWireHold(t *testing.T, target string) *wireHold {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireHold{ln: ln, target: strings.TrimPrefix(target, "nats://")}
	t.Cleanup(func() { _ = ln.Close() })
	go w.serve(t)
	return w
}

func (w *wireHold) url() string { return "nats://" + w.ln.Addr().String() }

func (w *wireHold) serve(t *testing.T) {
	client, err := w.ln.Accept()
	if err != nil {
		return
	}
	server, err := net.Dial("tcp", w.target)
	if err != nil {
		_ = client.Close()
		return
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	w.mu.Lock()
	w.client = client
	w.mu.Unlock()
	go w.toServer(client, server)
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			w.mu.Lock()
			if w.held {
				w.pending = append(w.pending, buf[:n]...)
			} else {
				_, _ = client.Write(buf[:n])
			}
			w.mu.Unlock()
		}
		if err != nil {
			_ = client.Close()
			return
		}
	}
}

// toServer copies what the client sends, watching for an UNSUB once armed.
func (w *wireHold) toServer(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	var tail []byte // the end of the last read: a word may straddle two
	for {
		n, err := client.Read(buf)
		if n > 0 {
			seen := append(tail, buf[:n]...)
			if bytes.Contains(seen, []byte("UNSUB ")) {
				w.unsubSeen()
			}
			tail = append([]byte(nil), seen[max(0, len(seen)-5):]...)
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = server.Close()
			return
		}
	}
}

func (w *wireHold) hold() {
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

func (w *wireHold) releaseOnUnsub(after time.Duration) {
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
	time.AfterFunc(after, w.release)
}

func (w *wireHold) unsubSeen() {
	w.mu.Lock()
	armed := w.armed
	w.mu.Unlock()
	if armed {
		w.release()
	}
}

func (w *wireHold) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.held {
		return
	}
	w.armed, w.held = false, false
	_, _ = w.client.Write(w.pending)
	w.pending = nil
}
