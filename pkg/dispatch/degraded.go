package dispatch

import (
	"sort"
	"strings"
	"time"
)

// StateDegraded is shown while the gate would let deliveries through but
// something the sink depends on is failing: dead letters cannot be stored,
// or its durable consumer was lost and is being recreated.
const StateDegraded State = "degraded"

// Causes of degradation, as the switchyard_sink_degraded metric labels them.
const (
	CauseDeadLetterStore = "dead_letter_store"
	CauseConsumer        = "consumer"
)

// setDegraded records (or updates) why the sink is degraded.
func (d *Dispatcher) setDegraded(cause, reason string) {
	d.degradedMu.Lock()
	from := d.stateLocked()
	_, had := d.degraded[cause]
	d.degraded[cause] = reason
	to := d.stateLocked()
	d.degradedMu.Unlock()
	if !had {
		d.opts.Metrics.Degraded.WithLabelValues(d.opts.Sink.Name, cause).Set(1)
	}
	if from != to {
		d.announce(from, to, reason, time.Time{})
	}
}

// clearDegraded removes a cause.
func (d *Dispatcher) clearDegraded(cause string) {
	d.degradedMu.Lock()
	from := d.stateLocked()
	_, had := d.degraded[cause]
	delete(d.degraded, cause)
	to := d.stateLocked()
	d.degradedMu.Unlock()
	if had {
		d.opts.Metrics.Degraded.WithLabelValues(d.opts.Sink.Name, cause).Set(0)
	}
	if from != to {
		d.announce(from, to, cause+" recovered", time.Time{})
	}
}

func (d *Dispatcher) stateLocked() State {
	st := d.gate.State()
	if st == StateRunning && len(d.degraded) > 0 {
		return StateDegraded
	}
	return st
}

// State reports what the sink's deliveries are doing.
func (d *Dispatcher) State() State {
	d.degradedMu.Lock()
	defer d.degradedMu.Unlock()
	return d.stateLocked()
}

// StateReason says why the sink is not simply running: the pause reason,
// and every cause that degrades it.
func (d *Dispatcher) StateReason() string {
	d.degradedMu.Lock()
	defer d.degradedMu.Unlock()
	var parts []string
	if r := d.gate.Reason(); r != "" {
		parts = append(parts, r)
	}
	causes := make([]string, 0, len(d.degraded))
	for c := range d.degraded {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	for _, c := range causes {
		parts = append(parts, d.degraded[c])
	}
	return strings.Join(parts, "; ")
}
