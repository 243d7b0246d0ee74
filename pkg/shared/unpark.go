package shared

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// How often parked records are looked at: the sinks this replica parked
// for every unparkEvery, and, every scanEvery, the stream's list of parked
// subjects (records another replica parked, or parked before a restart).
const (
	unparkEvery = 250 * time.Millisecond
	scanEvery   = 10 * time.Second
)

func (d *Deliverer) unparkLoop(ctx context.Context, log *slog.Logger) {
	tick := time.NewTicker(unparkEvery)
	defer tick.Stop()
	var lastScan time.Time
	d.mu.Lock()
	wake := d.wake
	d.mu.Unlock()
	all := true // every parked sink, or only those woken since
	for {
		if time.Since(lastScan) >= scanEvery {
			lastScan = time.Now()
			if err := d.scanParked(ctx); err != nil && ctx.Err() == nil {
				log.Warn("parked records not listed", "err", err)
			}
		}
		d.mu.Lock()
		from := d.woken
		if all {
			from = d.parked
		}
		incs := make([]string, 0, len(from))
		for inc := range from {
			incs = append(incs, inc)
		}
		clear(d.woken)
		d.mu.Unlock()
		for _, inc := range incs {
			if ctx.Err() != nil {
				return
			}
			t, ok := d.Sinks.SharedTarget(inc)
			if !ok {
				continue // deleted (its delete purges them) or not known here yet
			}
			room := t.Room()
			if room <= 0 {
				continue
			}
			empty, err := d.unpark(ctx, inc, room)
			if err != nil && ctx.Err() == nil {
				log.Warn("parked records not moved back", "sink_incarnation", inc, "err", err)
				continue
			}
			if empty {
				d.mu.Lock()
				delete(d.parked, inc)
				d.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			all = true
		case <-wake:
			all = false
		}
	}
}

// scanParked learns which incarnations have parked records.
func (d *Deliverer) scanParked(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := d.stream.Info(cctx, jetstream.WithSubjectFilter(subject.AllParked()))
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for subj, n := range info.State.Subjects {
		if n > 0 {
			d.parked[subject.IncarnationOf(subj)] = true
		}
	}
	return nil
}

// unpark moves up to n of an incarnation's parked records back to its due
// subject, oldest first, then removes them from the parked subject. A
// moved record's Nats-Msg-Id is made of its parked sequence, so replicas
// moving the same records at once make each due record once. empty: no
// parked record is left.
func (d *Deliverer) unpark(ctx context.Context, inc string, n int) (empty bool, err error) {
	parked := subject.Parked(inc)
	due := subject.Due(inc)
	var next uint64 = 1
	futures := make([]jetstream.PubAckFuture, 0, n)
	for len(futures) < n {
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		raw, err := d.stream.GetMsg(gctx, next, jetstream.WithGetMsgSubject(parked))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			empty = true
			break
		}
		if err != nil {
			return false, err
		}
		h := raw.Header
		if h == nil {
			h = nats.Header{}
		}
		h.Set(event.HeaderMsgID, inc+":u"+strconv.FormatUint(raw.Sequence, 10))
		f, err := d.js.PublishMsgAsync(&nats.Msg{Subject: due, Header: h, Data: raw.Data})
		if err != nil {
			return false, err
		}
		futures = append(futures, f)
		next = raw.Sequence + 1
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return false, err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if len(futures) == 0 {
		return empty, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Everything on the subject below next is moved.
	return empty, d.stream.Purge(pctx, jetstream.WithPurgeSubject(parked), jetstream.WithPurgeSequence(next))
}

// Purge removes every record of a deleted shared sink incarnation: due,
// waiting to retry and parked, one request each.
func Purge(ctx context.Context, js jetstream.JetStream, incarnation string) error {
	st, err := js.Stream(ctx, event.DeliveriesStream)
	if err != nil {
		return err
	}
	for _, subj := range []string{subject.Due(incarnation), subject.Retries(incarnation), subject.Parked(incarnation)} {
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return err
		}
	}
	return nil
}
