package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// RedriveStream holds dead letters sent back to one sink. It is a work
// queue: each sink's redrive consumer takes its own subject, and acked
// messages leave the stream.
const RedriveStream = "SWITCHYARD_REDRIVE"

// DeliveriesStream holds shared delivery's records (see subject.Deliveries):
// a work queue, so a settled record leaves it; its retries wait in it as
// message schedules.
const DeliveriesStream = event.DeliveriesStream

// RedriveSubject is where dead letters for sink go to be delivered again.
func RedriveSubject(sink string) string { return subject.Redrive(sink) }

// DeadLetterSubject is the subject of sink's dead letters.
func DeadLetterSubject(sink string) string { return subject.DeadLetter(sink) }

// EnsureStreams creates or updates the events, dead-letter and redrive streams.
func (b *Bus) EnsureStreams(ctx context.Context) error {
	s := b.cfg.Stream
	streams := []jetstream.StreamConfig{
		{
			Name:        s.Name,
			Description: "Switchyard events: producers publish to events.<type>",
			Subjects:    s.Subjects,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      s.MaxAge.D,
			// Full, the stream refuses publishes: the producer sees the
			// error, and no stored event is ever dropped for room.
			MaxBytes:   s.MaxBytes.N,
			Discard:    jetstream.DiscardNew,
			Replicas:   s.Replicas,
			Duplicates: s.DuplicateWindow.D,
			Storage:    jetstream.FileStorage,
			// One consumer per sink and per running replay; set here, not
			// left to the server's default, which caps it at 1,000.
			MaxConsumers: s.MaxConsumers,
		},
		{
			Name:        b.cfg.DeadLetters.Stream,
			Description: "Switchyard dead letters: dlq.<sink>",
			Subjects:    []string{subject.DeadLetters()},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      b.cfg.DeadLetters.MaxAge.D,
			// Full, it refuses new dead letters; their events stay pending.
			MaxBytes:   b.cfg.DeadLetters.MaxBytes.N,
			Discard:    jetstream.DiscardNew,
			Replicas:   s.Replicas,
			Duplicates: s.DuplicateWindow.D,
			Storage:    jetstream.FileStorage,
		},
		{
			Name:        RedriveStream,
			Description: "Switchyard redrives: dead letters sent back to one sink",
			Subjects:    []string{subject.Redrives()},
			Retention:   jetstream.WorkQueuePolicy,
			// One redrive consumer per sink, like the events stream.
			MaxConsumers: s.MaxConsumers,
			// It holds at most what the dead-letter stream held; full, a
			// redrive stops and the rest stay dead letters.
			MaxBytes:   b.cfg.DeadLetters.MaxBytes.N,
			Discard:    jetstream.DiscardNew,
			Replicas:   s.Replicas,
			Duplicates: s.DuplicateWindow.D,
			Storage:    jetstream.FileStorage,
		},
		{
			Name:        DeliveriesStream,
			Description: "Switchyard shared delivery: one record per event and shared sink",
			Subjects:    []string{subject.Deliveries()},
			Retention:   jetstream.WorkQueuePolicy,
			// A record is handed on with a Nats-Msg-Id of its sink and
			// event, so a matcher that dies between the hand-off and its
			// ack makes no second record within this window.
			Duplicates: max(s.DuplicateWindow.D, 2*time.Minute),
			// Its retries wait here as message schedules (@at).
			AllowMsgSchedules: true,
			AllowRollup:       true,
			// No byte limit: message schedules need discard old, and with
			// a limit that would drop records for room. Unlimited, a full
			// store fails the matchers' hand-offs, and the events wait in
			// the events stream.
			Discard:  jetstream.DiscardOld,
			Replicas: s.Replicas,
			Storage:  jetstream.FileStorage,
		},
	}
	for _, sc := range streams {
		err := b.Retry.Do(ctx, "stream "+sc.Name, func(ctx context.Context) error {
			_, err := b.JS.CreateOrUpdateStream(ctx, sc)
			return err
		})
		if err != nil {
			return fmt.Errorf("bus: stream %s: %w%s", sc.Name, err, storageHint(err))
		}
	}
	return nil
}

// storageHint explains JetStream's refusal to reserve a stream's max_bytes.
func storageHint(err error) string {
	if strings.Contains(err.Error(), "insufficient storage") {
		return " (JetStream reserves each stream's max_bytes on its store: lower stream.max_bytes, dead_letters.max_bytes or attempts.max_bytes, or give JetStream more storage)"
	}
	return ""
}

// StateBucket is the KV bucket holding runtime state that must survive a
// restart and be shared by replicas, such as which sinks are paused.
const StateBucket = "SWITCHYARD_STATE"

// StateKV creates or opens the state bucket.
func (b *Bus) StateKV(ctx context.Context) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := b.Retry.Do(ctx, "kv "+StateBucket, func(ctx context.Context) (err error) {
		kv, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: StateBucket, Description: "Switchyard runtime state", History: 5, Replicas: b.cfg.Stream.Replicas,
			MaxBytes: config.StateMaxBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bus: kv %s: %w", StateBucket, err)
	}
	return kv, nil
}

// SinksBucket is the KV bucket of sinks created through the admin API:
// one key per sink name, with history as the audit trail of its changes.
const SinksBucket = "SWITCHYARD_SINKS"

// SinksHistory is how many revisions of each API sink the bucket keeps
// (JetStream's KV allows at most 64).
const SinksHistory = 64

// SinksMaxBytes bounds the sinks bucket: thousands of sinks of a few KB
// each, with their history.
const SinksMaxBytes = 256 << 20

// SinksKV creates or opens the API sinks bucket.
func (b *Bus) SinksKV(ctx context.Context) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := b.Retry.Do(ctx, "kv "+SinksBucket, func(ctx context.Context) (err error) {
		kv, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: SinksBucket, Description: "Switchyard sinks created through the admin API", History: SinksHistory,
			Replicas: b.cfg.Stream.Replicas, MaxBytes: SinksMaxBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bus: kv %s: %w", SinksBucket, err)
	}
	return kv, nil
}

// ConsumerConfig is the durable consumer of one sink: JetStream's own
// redelivery carries out the sink's retry policy.
func ConsumerConfig(s config.Sink, maxBatch int) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:        s.Name,
		Description:    "Switchyard sink " + s.Name,
		FilterSubjects: s.FilterSubjects(),
		// From the moment the sink is created, as a start time rather than
		// "new": should the server ever lose the consumer's state, it
		// restarts from this time and redelivers (duplicates), where
		// "new" would skip to the end of the stream (loss).
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  ptr(time.Now().UTC()),
		AckPolicy:     jetstream.AckExplicitPolicy,
		// AckWait, not a BackOff list, covers the crash case: a delivery
		// the gateway never settles comes back after AckWait. A BackOff
		// list would also shift every NakWithDelay by BackOff[n]-AckWait
		// (the server measures a nak's delay against the backoff step), and
		// the schedule would no longer be the one configured.
		AckWait:    s.AckWait.D,
		MaxDeliver: MaxDeliver(s),
		// Events waiting out a retry delay stay ack-pending, so this is far
		// above the concurrency; the dispatcher's worker pool is what
		// bounds deliveries in flight.
		MaxAckPending: max(s.MaxAckPending, s.Concurrency*maxBatch),
		// Filled by the dispatcher's fetches; a larger pull would hold
		// messages in memory while their ack clock runs.
		MaxWaiting: 512,
	}
	withIncarnation(&cc, s.Incarnation)
	return cc
}

// MaxDeliver is unlimited. The dispatcher ends every event by its own
// count: it dead-letters on the last scheduled attempt, and dead-letters a
// message delivered more often than the budget allows (a shortened
// schedule, or stops and crashes during earlier attempts). A finite
// MaxDeliver would let the server drop a message silently — after a
// schedule is shortened, or while a dead-letter store is failing — and it
// must never be lowered on an existing consumer.
func MaxDeliver(config.Sink) int { return -1 }

// RedriveConsumerConfig is the consumer through which a sink takes its
// redriven dead letters.
func RedriveConsumerConfig(s config.Sink, maxBatch int) jetstream.ConsumerConfig {
	cc := ConsumerConfig(s, maxBatch)
	cc.Durable = subject.RedriveConsumer(s.Name)
	cc.Description = "Switchyard redrives for sink " + s.Name
	cc.FilterSubjects = nil
	cc.FilterSubject = RedriveSubject(s.Name)
	cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverAllPolicy, nil
	return cc
}

// EnsureConsumers creates or updates a sink's two consumers. resumeAfter,
// when not zero, is the events stream sequence the sink's consumer had
// settled everything up to (its recorded ack floor): a consumer that must
// be created anew starts right after it, so a consumer lost while the
// gateway was away costs redeliveries, never a skip.
func (b *Bus) EnsureConsumers(ctx context.Context, s config.Sink, maxBatch int, resumeAfter uint64) (events, redrive jetstream.Consumer, err error) {
	cc := ConsumerConfig(s, maxBatch)
	if resumeAfter > 0 {
		cc.DeliverPolicy, cc.OptStartTime, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, resumeAfter+1
	}
	events, err = b.ensureConsumer(ctx, b.cfg.Stream.Name, cc)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: consumer %s: %w", s.Name, err)
	}
	redrive, err = b.ensureConsumer(ctx, RedriveStream, RedriveConsumerConfig(s, maxBatch))
	if err != nil {
		return nil, nil, fmt.Errorf("bus: redrive consumer %s: %w", s.Name, err)
	}
	return events, redrive, nil
}

// RecreateConsumer creates a lost consumer again with the given config,
// starting after resumeAfter when it is not zero. When another replica
// recreated it first, it is bound only if it belongs to the same sink
// incarnation: a consumer of that name made since for a new sink of the
// same name is that sink's, and binding it would send the new sink's
// events through the old one's endpoint (an *IncarnationError, which is
// ErrSinkReplaced).
func (b *Bus) RecreateConsumer(ctx context.Context, stream string, cc jetstream.ConsumerConfig, resumeAfter uint64) (jetstream.Consumer, error) {
	if resumeAfter > 0 {
		cc.DeliverPolicy, cc.OptStartTime, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, resumeAfter+1
	}
	c, err := b.JS.CreateConsumer(ctx, stream, cc)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		if c, err = b.JS.Consumer(ctx, stream, cc.Durable); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, LimitReached(ctx, b.JS, stream, b.cfg.Stream.MaxConsumers, err)
	}
	if err := CheckIncarnation(c.CachedInfo(), IncarnationOf(cc)); err != nil {
		return nil, err
	}
	return c, nil
}

// ensureConsumer creates a consumer or updates it. Where it starts is fixed
// at creation (JetStream refuses to change it), so an update keeps the
// existing start.
func (b *Bus) ensureConsumer(ctx context.Context, stream string, cc jetstream.ConsumerConfig) (c jetstream.Consumer, err error) {
	err = b.Retry.Do(ctx, "consumer "+stream+"/"+cc.Durable, func(ctx context.Context) error {
		var err error
		// Replicas starting a sink at once race to create its consumer:
		// the loser's start differs from the winner's, which the server
		// refuses to change. Read the winner's start and update again.
		for try := 0; try < 3; try++ {
			existing, gerr := b.JS.Consumer(ctx, stream, cc.Durable)
			switch {
			case gerr == nil:
				// Another incarnation's consumer is never taken over;
				// one made before incarnations is adopted (the update
				// writes the metadata), keeping its position.
				if err := CheckIncarnation(existing.CachedInfo(), IncarnationOf(cc)); err != nil {
					return err
				}
				cur := existing.CachedInfo().Config
				cc.DeliverPolicy, cc.OptStartTime, cc.OptStartSeq = cur.DeliverPolicy, cur.OptStartTime, cur.OptStartSeq
			case !errors.Is(gerr, jetstream.ErrConsumerNotFound):
				// Not knowing whether it exists (an election, a
				// timeout), an update could move its start: ask again.
				return gerr
			}
			if c, err = b.JS.CreateOrUpdateConsumer(ctx, stream, cc); err == nil {
				return nil
			}
			if !strings.Contains(err.Error(), "can not be updated") {
				return err
			}
		}
		return err
	})
	// Both streams a sink has consumers on are capped by
	// stream.max_consumers.
	return c, LimitReached(ctx, b.JS, stream, b.cfg.Stream.MaxConsumers, err)
}

func ptr[T any](v T) *T { return &v }
