package apisinks

import (
	"fmt"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// A record read back from the sinks bucket is trusted no more than a
// request: whoever can publish to the bucket's subjects can write one, so
// each is judged by the rules a create passes, against the config in
// force, before it may run.

// Why a record is refused: the reason label of
// switchyard_sink_records_refused_total.
const (
	RefusedInvalid    = "invalid"     // the spec is not a valid sink
	RefusedNotAllowed = "not_allowed" // api.allow does not allow what it uses
	RefusedUnsealed   = "unsealed"    // stored in plain text though a secrets key is set
)

// Refusal is why a stored record does not run: it breaks a rule a create
// must pass.
type Refusal struct {
	Reason string // a Refused constant
	Err    error
}

func (r *Refusal) Error() string { return "refused: " + r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Kinds is what judging needs of the sink kinds: decoding their blocks
// and finding their secrets. *sink.Registry is one.
type Kinds interface {
	config.Kinds
	SecretsOf
}

// JudgeSpec is the one judgement of an API sink's spec, for a create, a
// change and every record read back: valid as the file's sinks are, and
// within api.allow of file. reason says which rule it broke.
func JudgeSpec(kinds config.Kinds, spec []byte, file *config.Config) (s config.Sink, reason string, err error) {
	s, err = config.Loader{Kinds: kinds}.ParseSink(spec, file)
	if err != nil {
		return s, RefusedInvalid, err
	}
	if fe := file.API.APIRestrictions(s); len(fe) > 0 {
		return s, RefusedNotAllowed, fe
	}
	return s, "", nil
}

// JudgeRecord judges a stored record; a *Refusal says why it may not
// run. keyed: a secrets key is set, so a plain record is refused.
func JudgeRecord(kinds Kinds, keyed bool, rec Record, file *config.Config) (config.Sink, error) {
	if rec.Plain() && keyed {
		return config.Sink{}, &Refusal{Reason: RefusedUnsealed, Err: ErrPlainRecord}
	}
	spec, err := WithoutExpiredSecrets(kinds, rec.Spec, rec.Expiring, time.Now())
	if err != nil {
		return config.Sink{}, &Refusal{Reason: RefusedInvalid, Err: err}
	}
	s, reason, err := JudgeSpec(kinds, spec, file)
	if reason == RefusedInvalid {
		err = fmt.Errorf("invalid against the running config: %w", err)
	}
	if err != nil {
		return s, &Refusal{Reason: reason, Err: err}
	}
	return s, nil
}
