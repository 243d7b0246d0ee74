// Package attempts owns the attempt log: one record per delivery attempt in
// the JetStream stream ATTEMPTS, with its own retention, and the queries
// the admin API answers from it.
package attempts

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Stream and subject layout: switchyard.attempts.<sink>.<bucket>, where
// the bucket (two hex digits) is a hash of the event id. Records are
// written in batches — JSON lines, one message per bucket per flush — so
// the log costs the server one message per many attempts, not one per
// attempt; the server still filters by sink, and a lookup by event id
// reads only its bucket (1/Buckets of the sink's log). Logs written before
// batching used switchyard.attempts.<sink>.<event id, base32>, one record
// a message; they are still read.
const (
	StreamName    = "ATTEMPTS"
	subjectPrefix = subject.InternalPrefix + "attempts."
	// MaxResponse is how much of a response body a record keeps.
	MaxResponse = 1024
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Buckets is how many buckets a sink's records are spread over.
const Buckets = 16

func bucket(eventID string) string { return bucketNames[bucketOf(eventID)] }

func bucketOf(eventID string) uint32 {
	// FNV-1a, inline: no hasher or string to allocate per record.
	h := uint32(2166136261)
	for i := 0; i < len(eventID); i++ {
		h = (h ^ uint32(eventID[i])) * 16777619
	}
	return h % Buckets
}

var bucketNames = func() (names [Buckets]string) {
	for i := range names {
		names[i] = fmt.Sprintf("%02x", i)
	}
	return names
}()

func bucketSubject(sink string, bucket uint32) string {
	return subjectPrefix + subject.Token(sink) + "." + bucketNames[bucket]
}

// legacySubject is the one-record-a-message subject of logs written
// before batching: a lookup by event id reads it too, so those records
// stay findable for as long as the stream keeps them.
func legacySubject(sink, eventID string) string {
	return subjectPrefix + subject.Token(sink) + "." + idEncoding.EncodeToString([]byte(eventID))
}

// Record is one delivery attempt.
type Record struct {
	EventID    string    `json:"event_id"`
	Sink       string    `json:"sink"`
	Type       string    `json:"type"`
	Tenant     string    `json:"tenant,omitempty"`
	Attempt    int       `json:"attempt"`
	Time       time.Time `json:"time"`
	DurationMS float64   `json:"duration_ms"`
	Outcome    string    `json:"outcome"` // delivered, retried, rate_limited, dead_lettered, canceled
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // first 1 KiB of the response body
	// TraceID is the W3C trace id of the attempt's traceparent (the one
	// the destination received), so a log line leads to its trace.
	TraceID   string `json:"trace_id,omitempty"`
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	// Incarnation is the sink's incarnation at the attempt: a sink
	// deleted and created again under its name is another incarnation,
	// and its queries show none of the first one's attempts.
	Incarnation string `json:"incarnation,omitempty"`
}

// Log writes and reads the attempt log.
type Log struct {
	JS jetstream.JetStream
	// FlushEvery bounds how long a record waits in memory (default
	// 100ms); a batch also goes out at MaxBatch records (default 256).
	FlushEvery time.Duration
	MaxBatch   int

	once sync.Once
	// One shard per bucket: the workers of every sink record at once,
	// and behind one lock for all of them they would queue.
	shards [Buckets]shard
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool
}

type shard struct {
	mu      sync.Mutex
	pending map[string]*batch // sink → records waiting
	// sizes is each sink's last batch size: the next batch starts with
	// that capacity rather than growing to it again.
	sizes map[string]int
}

type batch struct {
	buf   []byte // JSON lines
	n     int
	since time.Time // its first record
}

// A busy log (at least busyBatches batches waiting at a flush: many sinks
// delivering at once) lets a batch of fewer than busyMinRecords records
// wait for more, up to busyMaxWait: the server's cost is mostly per
// message, and with many sinks each flush would otherwise publish a
// message of a few records per sink and bucket (at 16 sinks, a fifth of
// the delivery path's CPU). A quiet log publishes every batch at
// every flush, so its records show within FlushEvery.
const (
	busyBatches    = 32
	busyMinRecords = 64
	busyMaxWait    = time.Second
)

// Ensure creates or updates the ATTEMPTS stream with the given retention.
// When it reaches maxBytes the oldest records go: the log is a window on
// recent attempts, never a reason to refuse one.
func (l *Log) Ensure(ctx context.Context, maxAge time.Duration, maxBytes int64, replicas int) error {
	_, err := l.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: StreamName, Description: "Switchyard attempt log: switchyard.attempts.<sink>.<event id>",
		Subjects: []string{subjectPrefix + ">"}, Retention: jetstream.LimitsPolicy, MaxAge: maxAge,
		MaxBytes: maxBytes, Discard: jetstream.DiscardOld,
		Replicas: replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("attempts: stream: %w", err)
	}
	return nil
}

// Record adds a record to its bucket's next batch without waiting for the
// server: the log must never slow deliveries down. Records still waiting
// when the process dies are lost: the log is a window on recent attempts,
// not part of the delivery guarantee.
func (l *Log) Record(r Record) error {
	l.once.Do(l.start)
	if len(r.Response) > MaxResponse {
		r.Response = r.Response[:MaxResponse]
	}
	i := bucketOf(r.EventID)
	sh := &l.shards[i]
	sh.mu.Lock()
	// Checked under the shard's lock: Close sets closed and then flushes
	// every shard under its lock, so a record is either flushed or refused.
	if l.closed.Load() {
		sh.mu.Unlock()
		return errors.New("attempts: log closed")
	}
	b := sh.pending[r.Sink]
	if b == nil {
		b = &batch{buf: make([]byte, 0, sh.sizes[r.Sink]+512), since: time.Now()}
		sh.pending[r.Sink] = b
	}
	b.buf = append(r.appendJSON(b.buf), '\n')
	b.n++
	var full []byte
	if b.n >= l.MaxBatch || len(b.buf) >= maxBatchBytes {
		full = b.buf
		delete(sh.pending, r.Sink)
		sh.sizes[r.Sink] = min(len(full), maxBatchBytes)
	}
	sh.mu.Unlock()
	if full != nil {
		return l.publish(bucketSubject(r.Sink, i), full)
	}
	return nil
}

// maxBatchBytes keeps a batch well under any server's max_payload.
const maxBatchBytes = 256 << 10

func (l *Log) start() {
	if l.FlushEvery <= 0 {
		l.FlushEvery = 100 * time.Millisecond
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 256
	}
	for i := range l.shards {
		l.shards[i].pending = map[string]*batch{}
		l.shards[i].sizes = map[string]int{}
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.flushLoop()
}

func (l *Log) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(l.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.flush(true)
			return
		case <-t.C:
			l.flush(false)
		}
	}
}

// flush publishes the batches waiting: all of them when all is set (at
// Close) or the log is quiet, else those a busy log lets go.
func (l *Log) flush(all bool) {
	waiting := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		waiting += len(sh.pending)
		sh.mu.Unlock()
	}
	busy := !all && waiting >= busyBatches
	now := time.Now()
	type out struct {
		sink string
		buf  []byte
	}
	var ready []out
	for i := range l.shards {
		sh := &l.shards[i]
		ready = ready[:0]
		sh.mu.Lock()
		for sink, b := range sh.pending {
			if busy && b.n < busyMinRecords && now.Sub(b.since) < busyMaxWait {
				continue
			}
			ready = append(ready, out{sink, b.buf})
			delete(sh.pending, sink)
			sh.sizes[sink] = min(len(b.buf), maxBatchBytes)
		}
		if len(sh.sizes) > 4*len(sh.pending)+1024 {
			sh.sizes = map[string]int{} // sinks long gone; hints come back with the next batches
		}
		sh.mu.Unlock()
		for _, o := range ready {
			_ = l.publish(bucketSubject(o.sink, uint32(i)), o.buf)
		}
	}
}

func (l *Log) publish(subj string, data []byte) error {
	_, err := l.JS.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data})
	if err != nil {
		return fmt.Errorf("attempts: record: %w", err)
	}
	return nil
}

// Close writes the records still waiting and stops the flusher; later
// records are refused.
func (l *Log) Close() {
	l.once.Do(l.start)
	if l.closed.Swap(true) {
		return
	}
	close(l.stop)
	<-l.done
}

// Query selects attempt records. Zero fields select everything.
type Query struct {
	Sink    string
	EventID string
	Type    string // wildcards allowed
	Tenant  string
	// Incarnation, when set, selects one incarnation of the sink and
	// the records written before incarnations were (they have none).
	Incarnation string
	Status      int
	Outcome     string
	Since       time.Time
	Until       time.Time
	Limit       int
}

// Find returns the records q selects, oldest first, at most q.Limit.
func (l *Log) Find(ctx context.Context, q Query) ([]Record, error) {
	// Every sink's records, or one sink's: its name is a token, never
	// a wildcard (subject.Token).
	filters := []string{subjectPrefix + "*.>"}
	if q.Sink != "" {
		filters = []string{subjectPrefix + subject.Token(q.Sink) + ".>"}
	}
	if q.EventID != "" {
		filters = []string{bucketSubject(q.Sink, bucketOf(q.EventID)), legacySubject(q.Sink, q.EventID)}
		if q.Sink == "" {
			filters = []string{subjectPrefix + "*." + bucket(q.EventID), subjectPrefix + "*." + idEncoding.EncodeToString([]byte(q.EventID))}
		}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters}
	if !q.Since.IsZero() {
		since := q.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	c, err := l.JS.OrderedConsumer(ctx, StreamName, cfg)
	if err != nil {
		return nil, fmt.Errorf("attempts: query: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("attempts: query: %w", err)
	}
	out := []Record{}
	remaining := int(info.NumPending)
	for remaining > 0 {
		// The reader may have gone (a canceled request): stop reading.
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("attempts: query: %w", err)
		}
		batch, err := c.Fetch(min(remaining, 512), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("attempts: query: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			remaining--
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("attempts: query: %w", err)
			}
			if meta, err := m.Metadata(); err == nil && !q.Until.IsZero() && meta.Timestamp.After(q.Until.Add(time.Minute)) {
				// Batches are written within FlushEvery of their records:
				// nothing later can be before Until.
				return out, nil
			}
			for _, line := range bytes.Split(m.Data(), []byte("\n")) {
				var r Record
				if len(line) == 0 || json.Unmarshal(line, &r) != nil || !q.match(r) {
					continue
				}
				out = append(out, r)
				if q.Limit > 0 && len(out) == q.Limit {
					return out, nil
				}
			}
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

func (q Query) match(r Record) bool {
	return (q.EventID == "" || q.EventID == r.EventID) &&
		(q.Since.IsZero() || !r.Time.Before(q.Since)) &&
		(q.Until.IsZero() || r.Time.Before(q.Until)) &&
		(q.Type == "" || event.MatchType(q.Type, r.Type)) &&
		(q.Tenant == "" || q.Tenant == r.Tenant) &&
		(q.Incarnation == "" || r.Incarnation == "" || q.Incarnation == r.Incarnation) &&
		(q.Status == 0 || q.Status == r.Status) &&
		(q.Outcome == "" || strings.EqualFold(q.Outcome, r.Outcome))
}
