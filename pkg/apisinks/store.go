package apisinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/bus"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Store reads and writes the records of API sinks in the sinks bucket,
// sealed when a key is set. Every write is over the revision it read, so
// replicas changing the same sink never lose one another's change.
type Store struct {
	KV     jetstream.KeyValue // the sinks bucket
	State  jetstream.KeyValue // the state bucket: the sealed marker
	Sealer *Sealer            // nil: specs are stored plain
	Log    *slog.Logger
	// applied is the bucket's stream sequence up to which the watch has
	// applied every change (see Current).
	applied atomic.Uint64
}

// Entry is one revision of an API sink read from the bucket. Err says
// why its record could not be read; Rec is empty then.
type Entry struct {
	Name string
	Rec  Record
	Rev  uint64
	Err  error
}

func (s *Store) entry(e jetstream.KeyValueEntry) Entry {
	rec, err := s.Sealer.Decode(e.Key(), e.Value())
	return Entry{Name: e.Key(), Rec: rec, Rev: e.Revision(), Err: err}
}

// Get is the latest revision of name; jetstream.ErrKeyNotFound when it
// has none (never created, or deleted).
func (s *Store) Get(ctx context.Context, name string) (Entry, error) {
	e, err := s.KV.Get(ctx, name)
	if err != nil {
		return Entry{}, err
	}
	return s.entry(e), nil
}

// Revision is the latest revision of name, read without unsealing.
func (s *Store) Revision(ctx context.Context, name string) (uint64, error) {
	e, err := s.KV.Get(ctx, name)
	if err != nil {
		return 0, err
	}
	return e.Revision(), nil
}

// All reads the latest revision of every API sink.
func (s *Store) All(ctx context.Context) ([]Entry, error) {
	keys, err := s.KV.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("api sinks: %w", err)
	}
	defer keys.Stop()
	var out []Entry
	for name := range keys.Keys() {
		e, err := s.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("api sink %s: %w", name, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Create stores the first revision of name; jetstream.ErrKeyExists
// when the name is taken.
func (s *Store) Create(ctx context.Context, name string, rec Record) (uint64, error) {
	data, err := s.Sealer.Encode(name, rec)
	if err != nil {
		return 0, err
	}
	return s.KV.Create(ctx, name, data)
}

// Update stores rec over revision last; jetstream.ErrKeyExists when
// another revision came meanwhile.
func (s *Store) Update(ctx context.Context, name string, rec Record, last uint64) (uint64, error) {
	data, err := s.Sealer.Encode(name, rec)
	if err != nil {
		return 0, err
	}
	return s.KV.Update(ctx, name, data, last)
}

// Delete writes the revision that says who deleted e (when its record is
// readable), then the delete marker after it: the tombstone every
// replica's watch and recovery respect. jetstream.ErrKeyExists when
// another revision came meanwhile.
func (s *Store) Delete(ctx context.Context, e Entry, actor string) error {
	last := e.Rev
	if e.Err == nil {
		rec := e.Rec
		rec.Op, rec.Actor, rec.Reason, rec.At = OpDelete, actor, "", time.Now().UTC()
		if rev, err := s.Update(ctx, e.Name, rec, last); err == nil {
			last = rev
		}
	}
	return s.KV.Delete(ctx, e.Name, jetstream.LastRevision(last))
}

// Remove deletes name over revision rev, writing no revision before it:
// it takes back a create that could not start.
func (s *Store) Remove(ctx context.Context, name string, rev uint64) error {
	return s.KV.Delete(ctx, name, jetstream.LastRevision(rev))
}

// History is name's audit trail, oldest first, each revision's spec
// shown through redact; jetstream.ErrKeyNotFound when name has none.
func (s *Store) History(ctx context.Context, name string, redact func(doc map[string]any) *config.Sink) ([]gatewayapi.SinkRevision, error) {
	// History reads by a key filter: the name is a token, never a wildcard.
	entries, err := s.KV.History(ctx, subject.Token(name))
	if err != nil {
		return nil, err
	}
	out := make([]gatewayapi.SinkRevision, 0, len(entries))
	for _, e := range entries {
		r := gatewayapi.SinkRevision{Revision: e.Revision(), At: e.Created().UTC(), Op: OpDelete}
		if e.Operation() == jetstream.KeyValuePut {
			rec, err := s.Sealer.Decode(name, e.Value())
			if err != nil {
				r.Op, r.Reason = "unreadable", err.Error()
			} else {
				r.Op, r.Actor, r.Reason = rec.Op, rec.Actor, rec.Reason
				var doc map[string]any
				if json.Unmarshal(rec.Spec, &doc) == nil {
					r.Sink = redact(doc)
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// sealedMarkerKey, in the state bucket, says that plain records have been
// sealed once: from then on a plain record is not this gateway's.
const sealedMarkerKey = "apisinks.sealed"

// SealPlain seals, on the first start with a secrets key, the records
// stored in plain text before the key was set, and leaves a marker so
// that no later start seals a plain record again (it would launder one
// written by anyone who can publish to the bucket). Without a key it
// does nothing.
func (s *Store) SealPlain(ctx context.Context) error {
	if s.Sealer == nil {
		return nil
	}
	if _, err := s.State.Get(ctx, sealedMarkerKey); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("state %s: %w", sealedMarkerKey, err)
	}
	keys, err := s.KV.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("api sinks: %w", err)
	}
	var names []string
	for name := range keys.Keys() {
		names = append(names, name)
	}
	_ = keys.Stop()
	sealed := 0
	for _, name := range names {
		ok, err := s.sealRecord(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			sealed++
		}
	}
	marker, _ := json.Marshal(map[string]any{"at": time.Now().UTC(), "sealed": sealed})
	if _, err := s.State.Put(ctx, sealedMarkerKey, marker); err != nil {
		return fmt.Errorf("state %s: %w", sealedMarkerKey, err)
	}
	s.Log.Info("first start with admin.secrets_key_file: sealed the API sinks stored in plain text; a plain record written from now on is refused", "sealed", sealed, "bucket", bus.SinksBucket)
	return nil
}

// sealRecord rewrites one plain record sealed, over the revision it read.
func (s *Store) sealRecord(ctx context.Context, name string) (bool, error) {
	for try := 0; try < 3; try++ {
		e, err := s.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("api sink %s: %w", name, err)
		}
		if e.Err != nil || !e.Rec.Plain() {
			return false, nil // sealed already, or unreadable: reported when loaded
		}
		rec := e.Rec
		rec.Op, rec.Actor, rec.Reason, rec.At = OpSeal, "switchyard", "sealed on the first start with admin.secrets_key_file", time.Now().UTC()
		_, err = s.Update(ctx, name, rec, e.Rev)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, fmt.Errorf("seal api sink %s: %w", name, err)
		}
		// Another replica changed it meanwhile: read it again.
	}
	return false, fmt.Errorf("seal api sink %s: it keeps changing", name)
}

// Trace is what the bucket's history says of a name now.
type Trace struct {
	Used bool      // the name has a history: a sink was created under it
	Held bool      // its latest revision is a put: a sink holds it
	At   time.Time // when that latest revision (or tombstone) was written
}

// Trace reads what the bucket's history says of name.
func (s *Store) Trace(ctx context.Context, name string) (Trace, error) {
	entries, err := s.KV.History(ctx, subject.Token(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Trace{}, nil
	}
	if err != nil {
		return Trace{}, err
	}
	if len(entries) == 0 {
		return Trace{}, nil
	}
	last := entries[len(entries)-1]
	return Trace{Used: true, Held: last.Operation() == jetstream.KeyValuePut, At: last.Created()}, nil
}
