package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
)

func apiErr(code jetstream.ErrorCode, desc string) error {
	return &jetstream.APIError{Code: 503, ErrorCode: code, Description: desc}
}

// What a cluster recovers from on its own is retried; a config or auth
// error, or a caller giving up, is not.
func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"attempt timed out", fmt.Errorf("stream EVENTS: %w", context.DeadlineExceeded), true},
		{"caller canceled", context.Canceled, false},
		{"request timeout", nats.ErrTimeout, true},
		{"no responders (no JetStream leader)", fmt.Errorf("x: %w", nats.ErrNoResponders), true},
		{"no servers yet", nats.ErrNoServers, true},
		{"reconnecting", nats.ErrConnectionReconnecting, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "refused"}}, true},
		{"ECONNREFUSED", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"temporarily unavailable", apiErr(10008, "JetStream system temporarily unavailable"), true},
		{"no suitable peers", apiErr(10005, "no suitable peers for placement"), true},
		{"not leader", apiErr(10009, "JetStream cluster can not handle request"), true},
		{"stream offline", apiErr(10118, "stream is offline"), true},
		{"create error naming a leader", apiErr(10049, "stream create error: leader lost"), true},
		{"JetStream not enabled yet", jetstream.ErrJetStreamNotEnabled, true},
		{"authorization", nats.ErrAuthorization, false},
		{"permissions", fmt.Errorf("x: %w", nats.ErrPermissionViolation), false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"insufficient storage (config)", apiErr(10047, "insufficient storage resources available"), false},
		{"subjects overlap (config)", apiErr(10065, "subjects overlap with an existing stream"), false},
		{"stream name in use (config)", apiErr(10058, "stream name already in use with a different configuration"), false},
		{"invalid config", apiErr(10052, "replicas > 1 not supported in non-clustered mode"), false},
		{"unknown error", errors.New("something else"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bus.Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Do retries a retryable failure with growing, capped waits and says what
// it waits for meanwhile; a permanent one ends it at once; so does the
// caller's context, with the last error. Each case runs in a synctest
// bubble: the waits are on the bubble's clock, exact and instant.
func TestRetrierDo(t *testing.T) {
	first, capped := bus.RetryFirst, bus.RetryCap
	bus.RetryFirst, bus.RetryCap = 10*time.Millisecond, 40*time.Millisecond
	t.Cleanup(func() { bus.RetryFirst, bus.RetryCap = first, capped })

	t.Run("retryable until it works", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &bus.Retrier{Log: quiet()}
			n := 0
			var seen string
			err := r.Do(t.Context(), "stream EVENTS", func(context.Context) error {
				n++
				if n == 2 {
					seen = r.Waiting()
				}
				if n < 6 {
					return nats.ErrNoResponders
				}
				return nil
			})
			if err != nil || n != 6 {
				t.Fatalf("err %v after %d calls", err, n)
			}
			if !strings.Contains(seen, "stream EVENTS") || !strings.Contains(seen, "no responders") {
				t.Errorf("Waiting() while retrying = %q", seen)
			}
			if r.Waiting() != "" || r.Retries() != 5 {
				t.Errorf("after success: waiting %q, retries %d", r.Waiting(), r.Retries())
			}
		})
	})
	t.Run("attempts get longer up to the cap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			attemptFirst, attempt := bus.RetryAttemptFirst, bus.RetryAttempt
			// On the bubble's clock, the op sees its attempt's whole bound.
			bus.RetryAttemptFirst, bus.RetryAttempt = time.Second, 4*time.Second
			t.Cleanup(func() { bus.RetryAttemptFirst, bus.RetryAttempt = attemptFirst, attempt })
			var given []time.Duration
			err := (&bus.Retrier{Log: quiet()}).Do(t.Context(), "x", func(ctx context.Context) error {
				d, _ := ctx.Deadline()
				given = append(given, time.Until(d))
				if len(given) < 5 {
					return nats.ErrTimeout
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []time.Duration{1, 2, 4, 4, 4}
			for i, d := range given {
				w := want[i] * time.Second
				if d != w {
					t.Errorf("attempt %d had %s, want %s", i+1, d, w)
				}
			}
		})
	})
	t.Run("permanent fails at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &bus.Retrier{Log: quiet()}
			n := 0
			err := r.Do(t.Context(), "x", func(context.Context) error { n++; return nats.ErrAuthorization })
			if !errors.Is(err, nats.ErrAuthorization) || n != 1 {
				t.Errorf("err %v after %d calls", err, n)
			}
		})
	})
	t.Run("context ends the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &bus.Retrier{Log: quiet()}
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := r.Do(ctx, "x", func(context.Context) error { return nats.ErrTimeout })
			if !errors.Is(err, nats.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err %v: want the last error and the context's", err)
			}
			if d := time.Since(start); d != 200*time.Millisecond {
				t.Errorf("took %s, want the context's 200ms", d)
			}
		})
	})
}

func TestJitter(t *testing.T) {
	for i := 0; i < 1000; i++ {
		if d := bus.Jitter(time.Second); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("Jitter(1s) = %s", d)
		}
	}
}

// A Bus opened while nothing listens at nats.url waits for the server,
// then ensures the streams once it is up.
func TestOpenWaitsForTheServer(t *testing.T) {
	port := testutil.FreePort(t)
	cfg := config.Defaults()
	cfg.NATS.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg.Stream.MaxBytes.N, cfg.DeadLetters.MaxBytes.N = 8<<20, 4<<20
	r := &bus.Retrier{Log: quiet()}
	type opened struct {
		b   *bus.Bus
		err error
	}
	done := make(chan opened, 1)
	go func() {
		b, err := bus.OpenWith(t.Context(), cfg, quiet(), r)
		if err == nil {
			err = b.EnsureStreams(t.Context())
		}
		done <- opened{b, err}
	}()
	testutil.WaitFor(t, 10*time.Second, "Open waiting for the server", func() bool { return strings.Contains(r.Waiting(), "nats connect") })
	select {
	case o := <-done:
		t.Fatalf("Open returned before the server was up: %v", o.err)
	default:
	}
	testutil.StartJetStream(t, func(o *server.Options) { o.Port = port })
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		defer o.b.Close()
		if !o.b.Connected() {
			t.Error("not connected")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Open did not return after the server came up")
	}
}
