package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// whole stream for a client that has gone.
func TestScansStopWhenTheRequestIsCanceled(t *testing.T) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Sinks: rc.SinkYAML("s", `[">"]`, 4, "")})
	fillAttempts(t, g, 30000)
	fillDeadLetters(t, g, 30000)
	scans := map[string]func(context.Context) error{
		"attempts": func(ctx context.Context) error {
			_, err := g.Admin().Events.Attempts(ctx, attempts.Query{Type: "nothing.matches"})
			return err
		},
		"dead letters": func(ctx context.Context) error {
			_, err := g.Admin().DeadLetters.DeadLetters(ctx, "s", deadletter.Filter{Type: "nothing.matches"})
			return err
		},
	}
	for name, scan := range scans {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := scan(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: scan of 30000 records ran past its deadline for %s and returned %v; want the context's error", name, took, err)
		}
	}
}
