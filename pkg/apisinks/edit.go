package apisinks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// NewName is "ep_" and 22 base62 characters (131 bits), as generated
// endpoint ids look elsewhere: the name of a sink created without one.
func NewName() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 3, 25)
	copy(b, "ep_")
	for i := 0; i < 22; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b = append(b, alphabet[n.Int64()])
	}
	return string(b)
}

// ErrPlainRecord: with a key, only the first start seals plain records.
var ErrPlainRecord = errors.New("stored in plain text although admin.secrets_key_file is set, so not written by this gateway (plain records are sealed only on the first start with the key): delete the sink and create it again")

// Edit writes the revision of e that change makes of its spec and record,
// stamped with op, actor and reason, over e's revision only. check, when
// set, judges the changed spec before it is stored. A plain record is not
// changed while a key is set: that would seal, and so adopt, a record not
// written by this gateway.
func (s *Store) Edit(ctx context.Context, e Entry, op, actor, reason string, change func(doc map[string]any, rec *Record) error, check func(spec []byte) error) (Record, uint64, error) {
	if e.Err != nil {
		return Record{}, 0, e.Err
	}
	rec := e.Rec
	if rec.Plain() && s.Sealer != nil {
		return Record{}, 0, fmt.Errorf("%w: sink %q is refused: %v", gatewayapi.ErrConflict, e.Name, ErrPlainRecord)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Spec, &doc); err != nil {
		return Record{}, 0, fmt.Errorf("sink %s: stored spec: %w", e.Name, err)
	}
	if err := change(doc, &rec); err != nil {
		return Record{}, 0, err
	}
	var err error
	if rec.Spec, err = json.Marshal(doc); err != nil {
		return Record{}, 0, err
	}
	if check != nil {
		if err := check(rec.Spec); err != nil {
			return Record{}, 0, err
		}
	}
	rec.Op, rec.Actor, rec.Reason, rec.At = op, actor, reason, time.Now().UTC()
	rev, err := s.Update(ctx, e.Name, rec, e.Rev)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Record{}, 0, fmt.Errorf("%w: sink %q changed meanwhile: read it again and retry", gatewayapi.ErrConflict, e.Name)
		}
		return Record{}, 0, fmt.Errorf("store sink %s: %w", e.Name, err)
	}
	return rec, rev, nil
}

// Patch applies a JSON merge patch (RFC 7396) to the stored spec doc of
// the sink called name, in place. A value the client sent back equal to
// its redacted form (redact: a fingerprint where a secret was) means the
// stored value, unchanged; name and tenant cannot change.
func Patch(doc, patch map[string]any, name string, redact func(doc map[string]any) (map[string]any, error)) error {
	var fe config.FieldErrors
	if v, ok := patch["name"]; ok && !reflect.DeepEqual(v, name) {
		fe = append(fe, config.FieldError{Field: "name", Message: "cannot be changed: create a new sink and delete this one"})
	}
	cur, _ := doc["tenant"].(string)
	if v, ok := patch["tenant"]; ok && !reflect.DeepEqual(v, cur) && !(v == nil && cur == "") {
		fe = append(fe, config.FieldError{Field: "tenant", Message: "cannot be changed: a sink belongs to one tenant"})
	}
	if len(fe) > 0 {
		return fe
	}
	redacted, err := redact(doc)
	if err != nil {
		return err
	}
	merged, _ := MergePatch(doc, patch).(map[string]any)
	RestoreSecrets(merged, doc, redacted)
	for k := range doc {
		delete(doc, k)
	}
	for k, v := range merged {
		doc[k] = v
	}
	return nil
}
