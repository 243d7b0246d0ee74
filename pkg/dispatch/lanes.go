package dispatch

import (
	"sort"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// lanes keep the events of one ordering key in stream order for drivers
// that publish with ordering keys. Each key has one head — the event in
// flight, or waiting out its retry delay in JetStream — and the later
// events of the key wait behind it, held (and kept alive) by the
// dispatcher until the head is delivered or dead-lettered. A redelivery
// of the head is recognised by its stream sequence and goes straight
// through.
//
// Waiting events give their pull credit back, so a blocked key never stops
// the source from pulling the head's redelivery; what bounds them is the
// consumer's MaxAckPending.
type lanes struct {
	mu    sync.Mutex
	byKey map[string]*lane
}

type lane struct {
	head    uint64
	waiting []laneMsg // ascending stream sequence
}

type laneMsg struct {
	seq uint64
	msg jetstream.Msg
}

func newLanes() *lanes { return &lanes{byKey: map[string]*lane{}} }

// admit reports whether the message may be delivered now; if not, it
// waits in its key's lane.
func (l *lanes) admit(key string, seq uint64, m jetstream.Msg) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.byKey[key]
	switch {
	case ln == nil:
		l.byKey[key] = &lane{head: seq}
		return true
	case ln.head == seq:
		return true
	}
	i := sort.Search(len(ln.waiting), func(i int) bool { return ln.waiting[i].seq >= seq })
	if i < len(ln.waiting) && ln.waiting[i].seq == seq {
		ln.waiting[i].msg = m // a newer delivery of the same event
		return false
	}
	ln.waiting = append(ln.waiting, laneMsg{})
	copy(ln.waiting[i+1:], ln.waiting[i:])
	ln.waiting[i] = laneMsg{seq: seq, msg: m}
	return false
}

// finish ends the head seq of key (delivered or dead-lettered) and returns
// the key's next event, which becomes the head, or nil.
func (l *lanes) finish(key string, seq uint64) jetstream.Msg {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.byKey[key]
	if ln == nil || ln.head != seq {
		return nil
	}
	if len(ln.waiting) == 0 {
		delete(l.byKey, key)
		return nil
	}
	next := ln.waiting[0]
	ln.waiting[0] = laneMsg{}
	ln.waiting = ln.waiting[1:]
	ln.head = next.seq
	return next.msg
}

// drain empties every lane and returns the waiting messages, at shutdown.
func (l *lanes) drain() []jetstream.Msg {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []jetstream.Msg
	for k, ln := range l.byKey {
		for _, w := range ln.waiting {
			out = append(out, w.msg)
		}
		delete(l.byKey, k)
	}
	return out
}

// admit puts m in its ordering key's lane; it reports whether m may be
// delivered now. A message that cannot be read as an event has no key:
// deliver dead-letters it.
func (d *Dispatcher) admit(m jetstream.Msg) bool {
	meta, err := m.Metadata()
	if err != nil {
		return true
	}
	ev, err := event.FromMessage(event.Message{
		Subject: m.Subject(), Header: m.Headers(), Data: m.Data(),
		Stream: meta.Stream, Sequence: meta.Sequence.Stream, Published: meta.Timestamp,
	}, subject.EventsPrefix)
	if err != nil {
		return true
	}
	key := d.ordered.OrderingKey(ev)
	if key == "" || d.lanes.admit(key, meta.Sequence.Stream, m) {
		return true
	}
	d.keep.detach(m)
	return false
}

// laneDone ends a delivered or dead-lettered event's turn in its lane and
// sends the key's next event on.
func (d *Dispatcher) laneDone(x delivery) {
	if d.lanes == nil || x.ev == nil {
		return
	}
	key := d.ordered.OrderingKey(x.ev)
	if key == "" {
		return
	}
	next := d.lanes.finish(key, x.meta.Sequence.Stream)
	if next == nil {
		return
	}
	select {
	case d.ready <- next:
	default:
		go func() {
			select {
			case d.ready <- next:
			case <-d.hardCtx.Done():
				d.release([]jetstream.Msg{next})
			}
		}()
	}
}

// releaseLanes hands back, at shutdown, what waits in lanes and in ready.
func (d *Dispatcher) releaseLanes() {
	if d.lanes == nil {
		return
	}
	d.release(d.lanes.drain())
	for {
		select {
		case m := <-d.ready:
			d.release([]jetstream.Msg{m})
		default:
			return
		}
	}
}
