package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// A JetStream limit reached (consumers on a stream, streams, storage or
// memory of the account) is not a fault of the gateway: no retry cures it
// and the operator is the one to raise it. LimitReached turns the
// server's answer into a *LimitError naming the limit and its value, and
// the admin API answers it with 409, not 500.

// The JetStream API error codes of a limit reached (nats-server's
// jetstream_errors_generated.go).
const (
	codeAccountResourcesExceeded jetstream.ErrorCode = 10002 // JSAccountResourcesExceededErr
	codeMaximumConsumers         jetstream.ErrorCode = 10026 // JSMaximumConsumersLimitErr
	codeMaximumStreams           jetstream.ErrorCode = 10027 // JSMaximumStreamsLimitErr
	codeMemoryExceeded           jetstream.ErrorCode = 10028 // JSMemoryResourcesExceededErr
	codeStorageExceeded          jetstream.ErrorCode = 10047 // JSStorageResourcesExceededErr
)

// LimitError is a JetStream limit reached: Limit names it (a config key
// such as "stream.max_consumers", or the JetStream account's limit),
// Value is its value ("" when the server does not say), Hint what to do.
type LimitError struct {
	Limit, Value, Hint string
	Err                error // the server's answer
}

func (e *LimitError) Error() string {
	s := e.Limit
	if e.Value != "" {
		s += " (" + e.Value + ")"
	}
	s += " reached: " + e.Err.Error()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e *LimitError) Unwrap() error { return e.Err }

// LimitReached returns err as a *LimitError when it is a JetStream limit
// reached, else err itself. stream is the stream the failed call was on;
// maxConsumers its configured stream.max_consumers (0: read it from the
// stream). The account's limits are read from the server, best effort.
func LimitReached(ctx context.Context, js jetstream.JetStream, stream string, maxConsumers int, err error) error {
	var apiErr *jetstream.APIError
	if err == nil || !errors.As(err, &apiErr) {
		return err
	}
	account := func(pick func(jetstream.AccountLimits) int64) string {
		info, aerr := js.AccountInfo(ctx)
		if aerr != nil || pick(info.Limits) < 0 {
			return ""
		}
		return strconv.FormatInt(pick(info.Limits), 10)
	}
	switch apiErr.ErrorCode {
	case codeMaximumConsumers:
		value := ""
		if maxConsumers > 0 {
			value = strconv.Itoa(maxConsumers)
		} else if s, serr := js.Stream(ctx, stream); serr == nil {
			value = strconv.Itoa(s.CachedInfo().Config.MaxConsumers)
		}
		return &LimitError{Limit: "stream.max_consumers", Value: value, Err: err,
			Hint: fmt.Sprintf("on stream %s; a dedicated sink takes a consumer on the events stream and one on the redrive stream, a replay one while it runs: raise stream.max_consumers, or use delivery: shared", stream)}
	case codeMaximumStreams:
		return &LimitError{Limit: "the JetStream account's max_streams", Value: account(func(l jetstream.AccountLimits) int64 { return int64(l.MaxStreams) }), Err: err}
	case codeStorageExceeded:
		return &LimitError{Limit: "JetStream file storage (the account's max_storage or the server's max_file_store)", Value: account(func(l jetstream.AccountLimits) int64 { return l.MaxStore }), Err: err}
	case codeMemoryExceeded:
		return &LimitError{Limit: "JetStream memory storage (the account's max_memory or the server's max_memory_store)", Value: account(func(l jetstream.AccountLimits) int64 { return l.MaxMemory }), Err: err}
	case codeAccountResourcesExceeded:
		return &LimitError{Limit: "the JetStream account's resources", Err: err}
	}
	return err
}
