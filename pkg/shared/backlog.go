package shared

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// Backlog is what a shared sink has waiting in the deliveries stream.
type Backlog struct {
	Due, Retrying, Parked uint64
	// Oldest is the publish time of the oldest event due or parked; zero
	// when none is.
	Oldest time.Time
}

// ReadBacklog counts an incarnation's records: a few requests, whatever
// the number of records or sinks.
func ReadBacklog(ctx context.Context, js jetstream.JetStream, incarnation string) (Backlog, error) {
	var b Backlog
	st, err := js.Stream(ctx, event.DeliveriesStream)
	if err != nil {
		return b, err
	}
	count := func(filter string) (uint64, error) {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return 0, err
		}
		var n uint64
		for _, c := range info.State.Subjects {
			n += c
		}
		return n, nil
	}
	if b.Due, err = count(subject.Due(incarnation)); err != nil {
		return b, err
	}
	if b.Retrying, err = count(subject.Retries(incarnation)); err != nil {
		return b, err
	}
	if b.Parked, err = count(subject.Parked(incarnation)); err != nil {
		return b, err
	}
	for _, subj := range []string{subject.Due(incarnation), subject.Parked(incarnation)} {
		raw, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return b, err
		}
		if t, err := time.Parse(time.RFC3339Nano, raw.Header.Get(HeaderPublished)); err == nil && (b.Oldest.IsZero() || t.Before(b.Oldest)) {
			b.Oldest = t
		}
	}
	return b, nil
}
