package bus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// open connects a Bus to a fresh embedded JetStream server, with small
// stream limits so the server can reserve them.
func open(t *testing.T) (*bus.Bus, *config.Config) {
	t.Helper()
	return testutil.OpenBus(t, testutil.StartJetStream(t, nil), func(cfg *config.Config) {
		cfg.Stream.MaxBytes.N = 8 << 20
		cfg.DeadLetters.MaxBytes.N = 4 << 20
	})
}

func sinkCfg(name string, events ...string) config.Sink {
	s := config.SinkDefaults(nil)
	s.Name = name
	s.Events = events
	s.AckWait.D = 30 * time.Second
	return s
}

func TestEnsureStreamsLimitsAndDiscard(t *testing.T) {
	b, cfg := open(t)
	tests := []struct {
		stream    string
		subjects  []string
		maxBytes  int64
		retention jetstream.RetentionPolicy
	}{
		{cfg.Stream.Name, cfg.Stream.Subjects, cfg.Stream.MaxBytes.N, jetstream.LimitsPolicy},
		{cfg.DeadLetters.Stream, []string{subject.DeadLetters()}, cfg.DeadLetters.MaxBytes.N, jetstream.LimitsPolicy},
		{bus.RedriveStream, []string{subject.Redrives()}, cfg.DeadLetters.MaxBytes.N, jetstream.WorkQueuePolicy},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			s, err := b.JS.Stream(t.Context(), tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			c := s.CachedInfo().Config
			if c.MaxBytes != tt.maxBytes {
				t.Errorf("max_bytes %d, want %d", c.MaxBytes, tt.maxBytes)
			}
			// Full, every stream refuses new messages: nothing stored is
			// dropped for room.
			if c.Discard != jetstream.DiscardNew {
				t.Errorf("discard %v, want new", c.Discard)
			}
			if c.Retention != tt.retention {
				t.Errorf("retention %v, want %v", c.Retention, tt.retention)
			}
			if len(c.Subjects) != len(tt.subjects) || c.Subjects[0] != tt.subjects[0] {
				t.Errorf("subjects %v, want %v", c.Subjects, tt.subjects)
			}
			if c.Duplicates != cfg.Stream.DuplicateWindow.D {
				t.Errorf("duplicate window %s, want %s", c.Duplicates, cfg.Stream.DuplicateWindow.D)
			}
		})
	}
}

// A full events stream refuses the publish; the stored events stay.
func TestEventsStreamFullRefusesNew(t *testing.T) {
	b, cfg := testutil.OpenBus(t, testutil.StartJetStream(t, nil), func(cfg *config.Config) {
		cfg.Stream.MaxBytes.N = 4 << 10
		cfg.DeadLetters.MaxBytes.N = 4 << 10
	})
	body := make([]byte, 1000)
	var refused error
	stored := 0
	for i := 0; i < 10 && refused == nil; i++ {
		if _, refused = b.JS.Publish(t.Context(), "events.order.created", body); refused == nil {
			stored++
		}
	}
	if refused == nil {
		t.Fatal("a 4 KiB stream took 10 KB")
	}
	info, err := b.JS.Stream(t.Context(), cfg.Stream.Name)
	if err != nil {
		t.Fatal(err)
	}
	st := info.CachedInfo().State
	if st.Msgs != uint64(stored) || st.FirstSeq != 1 {
		t.Errorf("stream holds %d from seq %d; %d were stored: discard new must keep the first ones", st.Msgs, st.FirstSeq, stored)
	}
}

// EnsureStreams is an update on a second run, and a refused reservation
// explains itself.
func TestEnsureStreamsUpdateAndStorageHint(t *testing.T) {
	b, cfg := open(t)
	if err := b.EnsureStreams(t.Context()); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	js := testutil.StartJetStream(t, nil)
	small := *cfg
	small.NATS.URL = js.URL()
	small.Stream.MaxBytes.N = 1 << 50
	b2, err := bus.Open(t.Context(), &small, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)
	err = b2.EnsureStreams(t.Context())
	if err == nil {
		t.Skip("the server reserved 1 PiB")
	}
	if want := "lower stream.max_bytes"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestConsumerConfig(t *testing.T) {
	s := sinkCfg("billing", "order.*", "invoice.paid")
	s.Concurrency, s.MaxAckPending = 4, 10
	tests := []struct {
		name string
		cc   jetstream.ConsumerConfig
	}{
		{"events", bus.ConsumerConfig(s, 50)},
		{"redrive", bus.RedriveConsumerConfig(s, 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := tt.cc
			if cc.MaxDeliver != -1 {
				t.Errorf("MaxDeliver %d: the server would drop a message silently", cc.MaxDeliver)
			}
			if len(cc.BackOff) != 0 {
				t.Errorf("BackOff %v: it shifts every NakWithDelay", cc.BackOff)
			}
			if cc.AckPolicy != jetstream.AckExplicitPolicy || cc.AckWait != s.AckWait.D {
				t.Errorf("ack %v/%s", cc.AckPolicy, cc.AckWait)
			}
			if cc.MaxAckPending != 4*50 {
				t.Errorf("MaxAckPending %d, want concurrency*batch = 200", cc.MaxAckPending)
			}
		})
	}
	ev := tests[0].cc
	if ev.Durable != "billing" || ev.DeliverPolicy != jetstream.DeliverByStartTimePolicy || ev.OptStartTime == nil {
		t.Errorf("events consumer %q starts %v at %v", ev.Durable, ev.DeliverPolicy, ev.OptStartTime)
	}
	if len(ev.FilterSubjects) != 2 || ev.FilterSubjects[0] != "events.order.*" {
		t.Errorf("filters %v", ev.FilterSubjects)
	}
	rd := tests[1].cc
	if rd.Durable != subject.RedriveConsumer("billing") || rd.FilterSubject != bus.RedriveSubject("billing") ||
		rd.FilterSubjects != nil || rd.DeliverPolicy != jetstream.DeliverAllPolicy || rd.OptStartTime != nil {
		t.Errorf("redrive consumer %+v", rd)
	}
}

func TestEnsureConsumersKeepsStartOnUpdate(t *testing.T) {
	b, _ := open(t)
	ctx := t.Context()
	s := sinkCfg("keep", "order.*")
	ev, rd, err := b.EnsureConsumers(ctx, s, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := ev.CachedInfo().Config.OptStartTime
	if start == nil || ev.CachedInfo().Config.MaxDeliver != -1 {
		t.Fatalf("created with start %v, MaxDeliver %d", start, ev.CachedInfo().Config.MaxDeliver)
	}
	if rd.CachedInfo().Config.DeliverPolicy != jetstream.DeliverAllPolicy {
		t.Errorf("redrive consumer starts %v", rd.CachedInfo().Config.DeliverPolicy)
	}
	// A start taken anew by the update would be later than this one.
	testutil.WaitFor(t, time.Second, "the clock past the consumer's start", func() bool { return time.Now().After(*start) })

	// An update (new filters, new ack wait, even a resume sequence) keeps
	// where the consumer started: JetStream refuses to change it.
	s.Events = []string{"order.*", "invoice.*"}
	s.AckWait.D = time.Minute
	ev2, _, err := b.EnsureConsumers(ctx, s, 10, 42)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	c := ev2.CachedInfo().Config
	if c.DeliverPolicy != jetstream.DeliverByStartTimePolicy || c.OptStartTime == nil || !c.OptStartTime.Equal(*start) || c.OptStartSeq != 0 {
		t.Errorf("after update: %v from %v / seq %d, want the original start %v", c.DeliverPolicy, c.OptStartTime, c.OptStartSeq, start)
	}
	if c.AckWait != time.Minute || len(c.FilterSubjects) != 2 || c.MaxDeliver != -1 {
		t.Errorf("update not applied: ack wait %s, filters %v, MaxDeliver %d", c.AckWait, c.FilterSubjects, c.MaxDeliver)
	}
}

// A consumer that must be created anew with a resume point starts right
// after it: the lost consumer costs redeliveries, never a skip.
func TestEnsureConsumersResumeAfterOnCreate(t *testing.T) {
	b, _ := open(t)
	ctx := t.Context()
	for i := 0; i < 5; i++ {
		if _, err := b.JS.Publish(ctx, "events.order.created", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	ev, _, err := b.EnsureConsumers(ctx, sinkCfg("resume", "order.*"), 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	c := ev.CachedInfo().Config
	if c.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || c.OptStartSeq != 4 || c.OptStartTime != nil {
		t.Fatalf("starts %v at seq %d (time %v), want seq 4", c.DeliverPolicy, c.OptStartSeq, c.OptStartTime)
	}
	if seqs := fetchSeqs(t, ev, 5); len(seqs) != 2 || seqs[0] != 4 || seqs[1] != 5 {
		t.Errorf("delivered stream seqs %v, want [4 5]", seqs)
	}
}

func fetchSeqs(t *testing.T, c jetstream.Consumer, n int) []uint64 {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, md.Sequence.Stream)
		_ = m.Ack()
	}
	return seqs
}

func TestRecreateConsumer(t *testing.T) {
	b, cfg := open(t)
	ctx := t.Context()
	for i := 0; i < 6; i++ {
		if _, err := b.JS.Publish(ctx, "events.order.created", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name        string
		resumeAfter uint64
		exists      bool // another replica recreated it first
		wantPolicy  jetstream.DeliverPolicy
		wantSeqs    []uint64
	}{
		{"resume after 4", 4, false, jetstream.DeliverByStartSequencePolicy, []uint64{5, 6}},
		{"no resume point", 0, false, jetstream.DeliverAllPolicy, []uint64{1, 2, 3, 4, 5, 6}},
		{"already recreated", 2, true, jetstream.DeliverByStartSequencePolicy, []uint64{3, 4, 5, 6}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := bus.ConsumerConfig(sinkCfg("lost"+string(rune('a'+i)), "order.*"), 10)
			cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverAllPolicy, nil
			if tt.exists {
				if _, err := b.RecreateConsumer(ctx, cfg.Stream.Name, cc, tt.resumeAfter); err != nil {
					t.Fatal(err)
				}
				// The same durable, asked again with another start: the
				// server says it exists, and the existing one is returned.
				other := cc
				other.DeliverPolicy = jetstream.DeliverLastPolicy
				if _, err := b.JS.CreateConsumer(ctx, cfg.Stream.Name, other); !errors.Is(err, jetstream.ErrConsumerExists) {
					t.Fatalf("second create = %v, want ErrConsumerExists", err)
				}
			}
			c, err := b.RecreateConsumer(ctx, cfg.Stream.Name, cc, tt.resumeAfter)
			if err != nil {
				t.Fatalf("RecreateConsumer: %v", err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Config.DeliverPolicy; got != tt.wantPolicy {
				t.Errorf("policy %v, want %v", got, tt.wantPolicy)
			}
			if got := fetchSeqs(t, c, 10); !equal(got, tt.wantSeqs) {
				t.Errorf("delivered %v, want %v", got, tt.wantSeqs)
			}
		})
	}
}

// RecreateConsumer with a config that differs from the one another
// replica created: the server refuses the create as ErrConsumerExists and
// RecreateConsumer binds to the existing consumer instead of failing.
func TestRecreateConsumerExistsWithOtherConfig(t *testing.T) {
	b, cfg := open(t)
	ctx := t.Context()
	cc := bus.ConsumerConfig(sinkCfg("race", "order.*"), 10)
	cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverAllPolicy, nil
	if _, err := b.JS.CreateConsumer(ctx, cfg.Stream.Name, cc); err != nil {
		t.Fatal(err)
	}
	c, err := b.RecreateConsumer(ctx, cfg.Stream.Name, cc, 7)
	if err != nil {
		t.Fatalf("RecreateConsumer on an existing durable: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.DeliverPolicy != jetstream.DeliverAllPolicy {
		t.Errorf("bound consumer starts %v, want the existing one's (all)", info.Config.DeliverPolicy)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStateKVAndConnected(t *testing.T) {
	b, _ := open(t)
	if !b.Connected() {
		t.Fatal("not connected")
	}
	kv, err := b.StateKV(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "paused.x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != bus.StateBucket || st.History() != 5 {
		t.Errorf("bucket %s history %d", st.Bucket(), st.History())
	}
	b.Close()
	if b.Connected() {
		t.Error("connected after Close")
	}
}

// With no URL, Open embeds a server: listen and sync_interval are checked,
// and Close stops it.
func TestOpenEmbedded(t *testing.T) {
	tests := []struct {
		name, listen, sync string
		wantErr            bool
	}{
		{"defaults", "127.0.0.1:0", "", false},
		{"sync always", "127.0.0.1:0", "always", false},
		{"sync interval", "127.0.0.1:0", "1s", false},
		{"bad sync interval", "127.0.0.1:0", "often", true},
		{"bad listen", "localhost", "", true},
		{"bad port", "127.0.0.1:http", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.NATS.Embedded.Listen, cfg.NATS.Embedded.SyncInterval = tt.listen, tt.sync
			cfg.NATS.Embedded.StoreDir = t.TempDir()
			cfg.Stream.MaxBytes.N, cfg.DeadLetters.MaxBytes.N = 1<<20, 1<<20
			b, err := bus.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.wantErr {
				if err == nil {
					b.Close()
					t.Fatal("Open succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if !b.Connected() || !strings.HasPrefix(b.ClientURL(), "nats://127.0.0.1:") {
				t.Errorf("connected %v at %s", b.Connected(), b.ClientURL())
			}
			if err := b.EnsureStreams(t.Context()); err != nil {
				t.Errorf("EnsureStreams on the embedded server: %v", err)
			}
		})
	}
}

// A stream made before tenants existed (subjects events.>) takes the
// tenant subjects when the gateway starts with the default config, in
// place, keeping its events; so does the redrive stream's consumer limit.
func TestExistingStreamTakesTenantSubjects(t *testing.T) {
	js := testutil.StartJetStream(t, nil)
	_, _ = testutil.OpenBus(t, js, func(c *config.Config) {
		c.Stream.Subjects = []string{"events.>"}
		c.Stream.MaxBytes.N, c.DeadLetters.MaxBytes.N, c.Attempts.MaxBytes.N = 1<<20, 1<<20, 1<<20
	})
	b, _ := testutil.OpenBus(t, js, func(c *config.Config) {
		c.Stream.MaxBytes.N, c.DeadLetters.MaxBytes.N, c.Attempts.MaxBytes.N = 1<<20, 1<<20, 1<<20
	})
	for _, name := range []string{config.DefaultStreamName, bus.RedriveStream} {
		s, err := b.JS.Stream(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		info := s.CachedInfo()
		if info.Config.MaxConsumers != config.DefaultMaxConsumers {
			t.Errorf("%s max_consumers %d", name, info.Config.MaxConsumers)
		}
		if name == config.DefaultStreamName && strings.Join(info.Config.Subjects, " ") != "events.> tenants.*.>" {
			t.Errorf("subjects %v", info.Config.Subjects)
		}
	}
	if _, err := b.JS.Publish(t.Context(), "tenants.acme.order.created", []byte(`{}`)); err != nil {
		t.Fatalf("a tenant's event: %v", err)
	}
}

// Updating a paused consumer (a replica starting, a reload) keeps it
// paused: no window in which a start-up lifts an operator's pause or
// another replica's open breaker before the state is read.
func TestEnsureConsumersKeepsAPause(t *testing.T) {
	b, _ := open(t)
	ctx := t.Context()
	s := sinkCfg("paused", "order.*")
	ev, _, err := b.EnsureConsumers(ctx, s, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if _, err := b.JS.PauseConsumer(ctx, ev.CachedInfo().Stream, "paused", until); err != nil {
		t.Fatal(err)
	}
	s.AckWait.D = time.Minute
	ev2, _, err := b.EnsureConsumers(ctx, s, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ev2.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Paused || info.Config.PauseUntil == nil || !info.Config.PauseUntil.Equal(until) || info.Config.AckWait != time.Minute {
		t.Fatalf("after an update: paused %v until %v, ack wait %s", info.Paused, info.Config.PauseUntil, info.Config.AckWait)
	}
}
