// Package attempts owns the attempt log: one record per delivery attempt in
// the JetStream stream ATTEMPTS, with its own retention, and the queries
// the admin API answers from it.
package attempts

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Stream and subject layout: switchyard.attempts.<sink>.<event id, base32>,
// so the server itself filters by sink and by event.
const (
	StreamName    = "ATTEMPTS"
	subjectPrefix = "switchyard.attempts."
	// MaxResponse is how much of a response body a record keeps.
	MaxResponse = 1024
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func subject(sink, eventID string) string {
	return subjectPrefix + sink + "." + idEncoding.EncodeToString([]byte(eventID))
}

// Record is one delivery attempt.
type Record struct {
	EventID    string    `json:"event_id"`
	Sink       string    `json:"sink"`
	Type       string    `json:"type"`
	Attempt    int       `json:"attempt"`
	Time       time.Time `json:"time"`
	DurationMS float64   `json:"duration_ms"`
	Outcome    string    `json:"outcome"` // delivered, retried, rate_limited, dead_lettered, canceled
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // first 1 KiB of the response body
	Stream     string    `json:"stream"`
	StreamSeq  uint64    `json:"stream_seq"`
}

// Log writes and reads the attempt log.
type Log struct {
	JS jetstream.JetStream
}

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

// Record appends a record without waiting for the server: the log must
// never slow deliveries down. Failures come back on the async error path.
func (l *Log) Record(r Record) error {
	if len(r.Response) > MaxResponse {
		r.Response = r.Response[:MaxResponse]
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = l.JS.PublishMsgAsync(&nats.Msg{Subject: subject(r.Sink, r.EventID), Data: b})
	return err
}

// Query selects attempt records. Zero fields select everything.
type Query struct {
	Sink    string
	EventID string
	Type    string // wildcards allowed
	Status  int
	Outcome string
	Since   time.Time
	Until   time.Time
	Limit   int
}

// Find returns the records q selects, oldest first, at most q.Limit.
func (l *Log) Find(ctx context.Context, q Query) ([]Record, error) {
	sinkTok, idTok := "*", ">"
	if q.Sink != "" {
		sinkTok = q.Sink
	}
	if q.EventID != "" {
		idTok = idEncoding.EncodeToString([]byte(q.EventID))
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjectPrefix + sinkTok + "." + idTok}}
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
			var r Record
			if json.Unmarshal(m.Data(), &r) != nil || !q.match(r) {
				continue
			}
			if !q.Until.IsZero() && !r.Time.Before(q.Until) {
				return out, nil
			}
			out = append(out, r)
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

func (q Query) match(r Record) bool {
	return (q.Type == "" || event.MatchType(q.Type, r.Type)) &&
		(q.Status == 0 || q.Status == r.Status) &&
		(q.Outcome == "" || strings.EqualFold(q.Outcome, r.Outcome))
}
