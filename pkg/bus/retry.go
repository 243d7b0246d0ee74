package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A NATS cluster electing a leader, a node restarting or JetStream still
// recovering its streams answers with timeouts, "no responders" or
// "temporarily unavailable" for a few seconds (after a stream leader dies,
// CreateOrUpdateStream can take 5–10 s). The gateway waits these out with
// backoff instead of exiting; a config or auth error fails at once.

// Backoff bounds for Retrier: the first wait, the cap, and how long an
// attempt may take: RetryAttemptFirst for the first, doubling up to
// RetryAttempt. A JetStream API call answers in milliseconds; one that has
// not answered within a second is usually one whose answer will never
// come: nats-server leaves equal stream creates that race (replicas
// deployed together on a fresh cluster) unanswered, often all but one and
// at times every one, so they would wait out the whole attempt for nothing,
// once per stream. Their retry finds the stream made and returns at once.
// A cluster that is merely slow gets longer attempts as they go on.
var (
	RetryFirst        = 200 * time.Millisecond
	RetryCap          = 5 * time.Second
	RetryAttemptFirst = time.Second
	RetryAttempt      = 10 * time.Second
)

// attemptTimeout is how long attempt n (from 1) may take.
func attemptTimeout(n int) time.Duration {
	d := RetryAttemptFirst
	for i := 1; i < n && d < RetryAttempt; i++ {
		d *= 2
	}
	return min(d, RetryAttempt)
}

// retryableCodes are the JetStream API errors a cluster recovers from on
// its own: no meta leader yet, a stream or consumer whose Raft group is
// electing or catching up, placement while a peer is away.
var retryableCodes = map[jetstream.ErrorCode]bool{
	10004: true, // JSClusterIncompleteErr
	10005: true, // JSClusterNoPeersErrF: no suitable peers while a node is down
	10007: true, // JSClusterNotAssignedErr
	10008: true, // JSClusterNotAvailErr: JetStream system temporarily unavailable
	10009: true, // JSClusterNotLeaderErr
	10023: true, // JSInsufficientResourcesErr: peers away
	10039: true, // JSNotEnabledForAccountErr: a server still enabling JetStream
	10041: true, // JSRaftGeneralErrF
	10076: true, // JSNotEnabledErr: likewise
	10118: true, // JSStreamOfflineErr
	10119: true, // JSConsumerOfflineErr
	10163: true, // JSStreamExpectedLastSeqPerSubjectNotReady
	10194: true, // JSStreamOfflineReasonErrF
	10195: true, // JSConsumerOfflineReasonErrF
	10202: true, // JSClusterServerMemberChangeInflightErr
}

// retryableText is what the server's catch-all create errors (10012,
// 10049: "{err}") say when the cause is an election or a missing peer.
var retryableText = []string{"temporarily unavailable", "no suitable peers", "leader", "not current", "timeout", "timed out", "catchup", "offline"}

// Retryable reports whether err is a condition the cluster recovers from
// on its own (a timeout, no responders, JetStream not ready, a leader
// election, a server not reachable yet), as opposed to a config or auth
// error that no wait cures. context.Canceled is not retryable: the caller
// gave up.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		if retryableCodes[apiErr.ErrorCode] {
			return true
		}
		d := strings.ToLower(apiErr.Description)
		for _, s := range retryableText {
			if strings.Contains(d, s) {
				return true
			}
		}
		return false
	}
	for _, e := range []error{
		nats.ErrAuthorization, nats.ErrAuthExpired, nats.ErrAuthRevoked, nats.ErrAccountAuthExpired,
		nats.ErrPermissionViolation, nats.ErrConnectionClosed, nats.ErrBadSubject, nats.ErrMaxPayload,
	} {
		if errors.Is(err, e) {
			return false
		}
	}
	for _, e := range []error{
		context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, nats.ErrNoServers,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrStaleConnection,
		jetstream.ErrNoStreamResponse, jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Retrier runs JetStream calls until they succeed, retrying with capped,
// jittered backoff while they fail in a Retryable way, and remembers what
// it is waiting for so /readyz can say it.
type Retrier struct {
	Log     *slog.Logger // nil: slog.Default()
	waiting atomic.Pointer[string]
	retries atomic.Int64
}

// Waiting is what a call is waiting for now ("stream EVENTS: nats:
// timeout"), or "".
func (r *Retrier) Waiting() string {
	if r == nil {
		return ""
	}
	if w := r.waiting.Load(); w != nil {
		return *w
	}
	return ""
}

// Retries counts the retried attempts since the start.
func (r *Retrier) Retries() int64 {
	if r == nil {
		return 0
	}
	return r.retries.Load()
}

// Do calls op until it returns nil or an error that is not Retryable, or
// ctx ends (then the last error is returned with ctx's). Each attempt gets
// attemptTimeout at most. what names the call in logs and in Waiting.
func (r *Retrier) Do(ctx context.Context, what string, op func(ctx context.Context) error) error {
	log := slog.Default()
	if r != nil && r.Log != nil {
		log = r.Log
	}
	wait := RetryFirst
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout(attempt))
		err := op(actx)
		cancel()
		if err == nil {
			if r != nil && attempt > 1 {
				r.waiting.Store(nil)
				log.Info("ready after waiting for the cluster", "for", what, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		}
		if !Retryable(err) {
			return err
		}
		if r != nil {
			s := what + ": " + err.Error()
			r.waiting.Store(&s)
			r.retries.Add(1)
		}
		log.Warn("waiting for the NATS cluster; retrying", "for", what, "attempt", attempt, "err", err)
		t := time.NewTimer(Jitter(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, RetryCap)
	}
}

// Jitter spreads d over [d/2, d], so replicas started together do not
// retry in step.
func Jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Sleep waits d, spread by Jitter, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(Jitter(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
