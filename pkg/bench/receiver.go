package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The benchmark's event body: fixed-width numbers first (as strings, since
// JSON numbers have no leading zeros), so the receiver finds them with a
// short scan (in the product they sit in the envelope's "data", after id,
// type and timestamp), then padding up to the size.
//
//	{"seq":"0000000042","sent_ns":"1796000000000000000","pad":"xxxx…"}
const (
	seqKey   = `"seq":"`
	sentKey  = `","sent_ns":"`
	seqLen   = 10
	sentLen  = 19
	bodyHead = len(`{`+seqKey) + seqLen + len(sentKey) + sentLen + len(`"`)
)

// body renders event seq, published at sent, padded to size bytes (or the
// shortest valid body when size is smaller than that).
func body(seq int, sent time.Time, size int) []byte {
	b := make([]byte, 0, max(size, bodyHead+1))
	b = append(b, `{`+seqKey...)
	b = appendFixed(b, int64(seq), seqLen)
	b = append(b, sentKey...)
	b = appendFixed(b, sent.UnixNano(), sentLen)
	b = append(b, '"')
	if pad := size - len(b) - len(`,"pad":""}`); pad > 0 {
		b = append(b, `,"pad":"`...)
		for range pad {
			b = append(b, 'x')
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

func appendFixed(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// parseBody finds an event's seq and publish time in a body: the
// producer's bytes (bare loop) or the envelope around them (product).
func parseBody(b []byte) (seq int, sentNS int64, ok bool) {
	i := bytes.Index(b, []byte(seqKey))
	if i < 0 {
		return 0, 0, false
	}
	b = b[i+len(seqKey):]
	s, ok1 := fixed(b, seqLen)
	b = b[min(len(b), seqLen):]
	if !bytes.HasPrefix(b, []byte(sentKey)) {
		return 0, 0, false
	}
	t, ok2 := fixed(b[len(sentKey):], sentLen)
	return int(s), t, ok1 && ok2
}

func fixed(b []byte, width int) (int64, bool) {
	if len(b) < width {
		return 0, false
	}
	var v int64
	for _, c := range b[:width] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// receiver is the loopback HTTP endpoint both systems deliver to. Sink k
// posts to /s/k. It counts distinct (sink, seq) pairs of the current phase
// and keeps each one's publish-to-receipt time; repeats (redeliveries) are
// answered but not counted.
type receiver struct {
	srv  *http.Server
	ln   net.Listener
	cur  atomic.Pointer[tally]
	pool sync.Pool
}

type tally struct {
	events, sinks int
	seen          []atomic.Bool
	latency       []int64 // ns, per sink*events+seq
	count         atomic.Int64
	done          chan struct{}
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{ln: ln}
	rc.pool.New = func() any { return new(bytes.Buffer) }
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

// url is sink k's destination.
func (rc *receiver) url(k int) string {
	return "http://" + rc.ln.Addr().String() + "/s/" + strconv.Itoa(k)
}

// expect starts a phase of events × sinks deliveries.
func (rc *receiver) expect(events, sinks int) *tally {
	t := &tally{events: events, sinks: sinks, seen: make([]atomic.Bool, events*sinks),
		latency: make([]int64, events*sinks), done: make(chan struct{})}
	rc.cur.Store(t)
	return t
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := rc.pool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r.Body, 1<<20))
	now := time.Now().UnixNano()
	if err != nil {
		rc.pool.Put(buf)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if k, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/s/")); err == nil {
		rc.hit(k, buf.Bytes(), now)
	}
	rc.pool.Put(buf)
	w.WriteHeader(http.StatusOK)
}

// hit counts body as received by sink k at now (ns), once per (sink, seq);
// the cloud modes' emulators call it for each accepted entry or message.
func (rc *receiver) hit(k int, b []byte, now int64) {
	seq, sent, ok := parseBody(b)
	if t := rc.cur.Load(); t != nil && ok && k >= 0 && k < t.sinks && seq >= 0 && seq < t.events {
		i := k*t.events + seq
		if t.seen[i].CompareAndSwap(false, true) {
			t.latency[i] = now - sent
			if t.count.Add(1) == int64(len(t.seen)) {
				close(t.done)
			}
		}
	}
}

func (rc *receiver) close() {
	_ = rc.srv.Close()
}
