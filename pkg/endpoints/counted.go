package endpoints

import (
	"errors"

	"github.com/switchyard-dev/switchyard/pkg/apisinks"
)

// What the endpoints count of the API sinks (those that do not run, by
// why) and show the rotation expiry (those with rotated-out secrets in
// their grace) follows each change of one sink (putLocked) at the cost
// of that sink; only a change of them all (a reload, a start) goes over
// all of them again (changed).

// notRunningKinds are the values of the not-running gauge's reason label.
var notRunningKinds = []string{"conflict", "refused", "failed"}

// notRunningKind is why an API sink does not run, as the gauge counts it;
// "" when it runs.
func notRunningKind(a *apisinks.Sink) string {
	var r *apisinks.Refusal
	switch {
	case a == nil || a.Err == nil:
		return ""
	case errors.Is(a.Err, apisinks.ErrNameInFile):
		return "conflict"
	case errors.As(a.Err, &r):
		return "refused"
	}
	return "failed"
}

// changed follows a change of all the API sinks (e.api replaced): it
// counts again those that do not run, and shows the rotation expiry the
// sinks whose rotated-out secrets it must end.
func (e *Endpoints) changed() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recountLocked()
	e.publishLocked()
}

// recountLocked counts all the API sinks again, after e.api was
// replaced. e.mu is held.
func (e *Endpoints) recountLocked() {
	e.notRunning = map[string]int{}
	e.expiring = map[string]apisinks.Pending{}
	for name, a := range e.api {
		e.countLocked(name, a, 1)
	}
}

// published shows what putLocked counted: the gauge and the expiry.
func (e *Endpoints) published() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.publishLocked()
}

// putLocked makes a (nil: none) the API sink called name, counted, and
// returns the one it replaces. e.mu is held.
func (e *Endpoints) putLocked(name string, a *apisinks.Sink) (prev *apisinks.Sink) {
	if e.notRunning == nil {
		e.notRunning = map[string]int{}
		e.expiring = map[string]apisinks.Pending{}
	}
	if prev = e.api[name]; prev != nil {
		e.countLocked(name, prev, -1)
	}
	if a == nil {
		delete(e.api, name)
		return prev
	}
	e.api[name] = a
	e.countLocked(name, a, 1)
	return prev
}

// countLocked adds (by 1) or takes away (by -1) what a counts. e.mu is
// held.
func (e *Endpoints) countLocked(name string, a *apisinks.Sink, by int) {
	if k := notRunningKind(a); k != "" {
		e.notRunning[k] += by
	}
	delete(e.expiring, name)
	if by > 0 && len(a.Rec.Expiring) > 0 {
		e.expiring[name] = apisinks.Pending{Rev: a.Rev, Expiring: a.Rec.Expiring}
	}
}

// publishLocked sets the gauge and the expiry's schedule from the
// counts. e.mu is held.
func (e *Endpoints) publishLocked() {
	for _, k := range notRunningKinds {
		e.metrics.APISinksNotRunning.WithLabelValues(k).Set(float64(e.notRunning[k]))
	}
	// The sinks with no rotated-out secret add nothing to the schedule.
	e.expiry.Schedule(e.expiring)
}
