// Package registry is a set of named specs that init functions add to and
// any goroutine reads: the store under the sink kinds' registry
// (pkg/sink) and the ingest providers' (pkg/ingest/provider).
package registry

import (
	"maps"
	"slices"
	"sync"
)

// Set is a set of values by name, safe for concurrent use. The zero Set
// is empty and ready.
type Set[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Add adds v under name, unless the name is taken: then it returns false
// and leaves the set as it was.
func (s *Set[T]) Add(name string, v T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.m[name]; dup {
		return false
	}
	if s.m == nil {
		s.m = map[string]T{}
	}
	s.m[name] = v
	return true
}

// Delete removes the value under name, if any.
func (s *Set[T]) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
}

// Get returns the value under name, and whether there is one.
func (s *Set[T]) Get(name string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[name]
	return v, ok
}

// Names returns the names, sorted.
func (s *Set[T]) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.m))
}

// Values returns the values in the order of their names.
func (s *Set[T]) Values() []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]T, 0, len(s.m))
	for _, n := range slices.Sorted(maps.Keys(s.m)) {
		out = append(out, s.m[n])
	}
	return out
}

// Clone returns a set with s's values, to change without touching s.
func (s *Set[T]) Clone() *Set[T] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &Set[T]{m: maps.Clone(s.m)}
}
