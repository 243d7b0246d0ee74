package endpoints

import "sync"

// changeOne serializes the changes of the sink called name with one
// another and with changes of all the sinks, not with changes of other
// sinks: a create's requests (the name's history, its leftovers, the
// store) overlap another's. It returns the unlock.
func (e *Endpoints) changeOne(name string) (unlock func()) {
	e.change.RLock()
	release := e.byName.lock(name)
	return func() {
		release()
		e.change.RUnlock()
	}
}

// nameLocks are a mutex per sink name, there while someone holds or
// waits for it.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]*nameLock
}

type nameLock struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// lock takes name's mutex and returns its unlock.
func (n *nameLocks) lock(name string) (unlock func()) {
	n.mu.Lock()
	if n.locks == nil {
		n.locks = map[string]*nameLock{}
	}
	l := n.locks[name]
	if l == nil {
		l = &nameLock{}
		n.locks[name] = l
	}
	l.refs++
	n.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		n.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(n.locks, name)
		}
		n.mu.Unlock()
	}
}
