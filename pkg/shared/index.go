package shared

import (
	"sync"

	"github.com/nats-io/nats-server/v2/server/gsl"
)

// Index is the shared sinks by the event subjects they take: nats-server's
// own subject-matching structure, so a sink's filters match here exactly
// as a consumer's filter subjects would. Adding or removing a sink costs
// its filters, whatever the number of sinks.
type Index struct {
	mu      sync.RWMutex
	list    *gsl.GenericSublist[string]
	filters map[string][]string // incarnation → the filters it was added with
	// from is, for a sink moved from dedicated to shared delivery, the
	// first events stream sequence the matchers hand on to it: the
	// events before were its own consumer's, which hands its backlog on
	// itself.
	from map[string]uint64
	// until is, for a sink moved from shared to dedicated delivery, the
	// last events stream sequence the matchers hand on to it: the events
	// after are its new consumer's.
	until map[string]uint64
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{list: gsl.NewSublist[string](), filters: map[string][]string{}, from: map[string]uint64{}, until: map[string]uint64{}}
}

// Put indexes a sink incarnation under its filter subjects, replacing
// what it was indexed under before (its From and Cut bounds stay).
func (x *Index) Put(incarnation string, filters []string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.putLocked(incarnation, filters)
}

func (x *Index) putLocked(incarnation string, filters []string) error {
	from, hasFrom := x.from[incarnation]
	until, hasUntil := x.until[incarnation]
	x.removeLocked(incarnation)
	for _, f := range filters {
		if err := x.list.Insert(f, incarnation); err != nil {
			x.removeLocked(incarnation)
			return err
		}
	}
	x.filters[incarnation] = append([]string(nil), filters...)
	if hasFrom {
		x.from[incarnation] = from
	}
	if hasUntil {
		x.until[incarnation] = until
	}
	return nil
}

// PutAfter indexes a sink incarnation, as Put does, to take only the
// events after the stream sequence last returns: last is called while no
// event is matched, so every event the matchers match from then on is
// either at or before that sequence (the sink's own consumer's, which
// hands them on itself: HandOver) or after it (the matchers'), never
// both and never neither.
func (x *Index) PutAfter(incarnation string, filters []string, last func() (uint64, error)) (uint64, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	seq, err := last()
	if err != nil {
		return 0, err
	}
	x.from[incarnation] = seq + 1
	if err := x.putLocked(incarnation, filters); err != nil {
		delete(x.from, incarnation)
		return 0, err
	}
	delete(x.until, incarnation) // moved back before its last move was over
	return seq, nil
}

// Cut makes the matchers hand on to an indexed incarnation no event after
// the stream sequence last returns: a sink going back to a consumer of
// its own, which starts right after it. last is called while no event is
// matched (it may create that consumer), so each event is handed on by
// exactly one of the two.
func (x *Index) Cut(incarnation string, last func() (uint64, error)) (uint64, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	seq, err := last()
	if err != nil {
		return 0, err
	}
	x.until[incarnation] = seq
	return seq, nil
}

// From makes the matchers hand on to incarnation only the events from
// stream sequence seq on (0: all).
func (x *Index) From(incarnation string, seq uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if seq == 0 {
		delete(x.from, incarnation)
		return
	}
	x.from[incarnation] = seq
}

// Until is incarnation's Cut, if it has one.
func (x *Index) Until(incarnation string) (uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	seq, ok := x.until[incarnation]
	return seq, ok
}

// Remove takes a sink incarnation out of the index.
func (x *Index) Remove(incarnation string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(incarnation)
}

func (x *Index) removeLocked(incarnation string) {
	for _, f := range x.filters[incarnation] {
		_ = x.list.Remove(f, incarnation)
	}
	delete(x.filters, incarnation)
	delete(x.from, incarnation)
	delete(x.until, incarnation)
}

// Has says whether incarnation is indexed.
func (x *Index) Has(incarnation string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.filters[incarnation]
	return ok
}

// Len is how many sinks are indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.filters)
}

// Match appends to dst every incarnation taking the event at seq on subj,
// each once (a sink's filters are disjoint, so the sublist names each at
// most once).
func (x *Index) Match(subj string, seq uint64, dst []string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.list.Match(subj, func(inc string) {
		if from, ok := x.from[inc]; ok && seq < from {
			return
		}
		if until, ok := x.until[inc]; ok && seq > until {
			return
		}
		dst = append(dst, inc)
	})
	return dst
}
