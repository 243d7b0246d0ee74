package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is a Store's answer for a key it does not hold.
var ErrNotFound = errors.New("session: not found")

// Store keeps session records under keys. Updates compare revisions, so
// a replica refreshing a session cannot bring back one that another
// replica has just ended.
type Store interface {
	Get(ctx context.Context, key string) (val []byte, rev uint64, err error)
	Create(ctx context.Context, key string, val []byte) error
	// Update fails when the key's revision is no longer rev (ended or
	// refreshed meanwhile).
	Update(ctx context.Context, key string, val []byte, rev uint64) error
	Delete(ctx context.Context, key string) error
	Keys(ctx context.Context) ([]string, error)
}

// kvPrefix is where sessions live in the state bucket.
const kvPrefix = "sessions."

// KVStore keeps sessions in a JetStream key-value bucket (the gateway's
// state bucket), which every replica reads: a logout on one is a logout
// on all.
type KVStore struct{ KV jetstream.KeyValue }

func (s KVStore) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	e, err := s.KV.Get(ctx, kvPrefix+key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("session: get: %w", err)
	}
	return e.Value(), e.Revision(), nil
}

func (s KVStore) Create(ctx context.Context, key string, val []byte) error {
	if _, err := s.KV.Create(ctx, kvPrefix+key, val); err != nil {
		return fmt.Errorf("session: create: %w", err)
	}
	return nil
}

func (s KVStore) Update(ctx context.Context, key string, val []byte, rev uint64) error {
	if _, err := s.KV.Update(ctx, kvPrefix+key, val, rev); err != nil {
		return fmt.Errorf("session: update: %w", err)
	}
	return nil
}

// Delete purges the key: an ended session leaves no history behind.
func (s KVStore) Delete(ctx context.Context, key string) error {
	if err := s.KV.Purge(ctx, kvPrefix+key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("session: delete: %w", err)
	}
	return nil
}

func (s KVStore) Keys(ctx context.Context) ([]string, error) {
	lister, err := s.KV.ListKeysFiltered(ctx, kvPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	var out []string
	for k := range lister.Keys() {
		out = append(out, strings.TrimPrefix(k, kvPrefix))
	}
	return out, nil
}

// MemStore keeps sessions in this process only: for a handler built
// without the gateway's bucket (tests, a single process).
type MemStore struct {
	mu   sync.Mutex
	rev  uint64
	recs map[string]memRec
}

type memRec struct {
	val []byte
	rev uint64
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{recs: map[string]memRec{}} }

func (s *MemStore) Get(_ context.Context, key string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[key]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return r.val, r.rev, nil
}

func (s *MemStore) Create(_ context.Context, key string, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[key]; ok {
		return errors.New("session: key exists")
	}
	s.rev++
	s.recs[key] = memRec{val, s.rev}
	return nil
}

func (s *MemStore) Update(_ context.Context, key string, val []byte, rev uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recs[key]; !ok || r.rev != rev {
		return errors.New("session: wrong last revision")
	}
	s.rev++
	s.recs[key] = memRec{val, s.rev}
	return nil
}

func (s *MemStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, key)
	return nil
}

func (s *MemStore) Keys(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.recs))
	for k := range s.recs {
		out = append(out, k)
	}
	return out, nil
}
