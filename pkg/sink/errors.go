package sink

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Class says how the dispatcher settles a failed delivery.
type Class int

const (
	// Retryable failures are retried after the sink's next scheduled delay.
	Retryable Class = iota
	// RateLimited failures are retried after the delay the receiver asked for.
	RateLimited
	// Permanent failures are dead-lettered at once: retrying cannot help.
	Permanent
	// Canceled deliveries were interrupted by shutdown; they are redelivered
	// without judging the destination.
	Canceled
)

// String is the class's name, with which an Error's message starts.
func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case RateLimited:
		return "rate_limited"
	case Permanent:
		return "permanent"
	case Canceled:
		return "canceled"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a classified delivery failure.
type Error struct {
	Class      Class
	Status     int           // the destination's status code, when it answered
	RetryAfter time.Duration // for RateLimited
	Err        error
}

func (e *Error) Error() string {
	msg := e.Class.String()
	if e.Status != 0 {
		msg += fmt.Sprintf(" (status %d)", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// RetryableError classifies err, with the destination's status (0: none),
// as worth another attempt.
func RetryableError(status int, err error) error {
	return &Error{Class: Retryable, Status: status, Err: err}
}

// PermanentError classifies err as one no retry can fix: the event is
// dead-lettered.
func PermanentError(status int, err error) error {
	return &Error{Class: Permanent, Status: status, Err: err}
}

// RateLimitedError classifies err as the destination asking to be sent
// nothing for after (its Retry-After).
func RateLimitedError(status int, after time.Duration, err error) error {
	return &Error{Class: RateLimited, Status: status, RetryAfter: after, Err: err}
}

// CanceledError classifies err as a delivery interrupted by shutdown: it
// is redelivered without judging the destination.
func CanceledError(err error) error { return &Error{Class: Canceled, Err: err} }

// Classify returns the class of any error. Unclassified errors are
// retryable, except context cancellation, which is Canceled: an unknown
// failure deserves another attempt, never a silent drop.
func Classify(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Class: Canceled, Err: err}
	}
	return &Error{Class: Retryable, Err: err}
}

// BatchError reports a partially failed batch: each failed index with its
// own error. Indexes not named were delivered.
type BatchError struct {
	Failed map[int]error
}

// NewBatchError returns an empty BatchError; add failures with Fail.
func NewBatchError() *BatchError { return &BatchError{Failed: map[int]error{}} }

// Fail records the failure of the event at index i.
func (b *BatchError) Fail(i int, err error) *BatchError {
	b.Failed[i] = err
	return b
}

func (b *BatchError) Error() string {
	idx := make([]int, 0, len(b.Failed))
	for i := range b.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	parts := make([]string, 0, len(idx))
	for _, i := range idx {
		parts = append(parts, fmt.Sprintf("[%d] %v", i, b.Failed[i]))
	}
	return fmt.Sprintf("%d of the batch failed: %s", len(idx), strings.Join(parts, "; "))
}

// ErrorFor returns the error that applies to index i of a batch whose Send
// returned err: nil when the item was delivered.
func ErrorFor(err error, i int) error {
	if err == nil {
		return nil
	}
	var be *BatchError
	if errors.As(err, &be) {
		return be.Failed[i]
	}
	return err
}

// FailEach records errs[i], where not nil, as the failure of index i.
func (b *BatchError) FailEach(errs []error) {
	for i, err := range errs {
		if err != nil {
			b.Fail(i, err)
		}
	}
}
