// Package eventlog answers the admin API's events role: attempts from the
// attempt log, and one event as the stream holds it with every attempt to
// deliver it, across sinks.
package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// ErrOff is returned by every query when the attempt log is disabled.
var ErrOff = errors.New("the attempt log is off (attempts.enabled: false)")

// Events is the admin API's events role: the attempt log, and the
// stream that holds each event's body.
type Events struct {
	Log *attempts.Log // nil when the attempt log is off
	JS  jetstream.JetStream
	// Incarnation names the sink called name as this replica runs or
	// stores it, "" when there is none: the log is kept by name, so a
	// sink deleted and created again shows only its own attempts.
	Incarnation func(name string) string
}

// Attempts finds the logged attempts q selects.
func (e Events) Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error) {
	if e.Log == nil {
		return nil, ErrOff
	}
	if q.Sink != "" && q.Incarnation == "" {
		q.Incarnation = e.Incarnation(q.Sink)
	}
	return e.Log.Find(ctx, q)
}

// Event is the event as the stream holds it, and every attempt to
// deliver it, across sinks.
func (e Events) Event(ctx context.Context, id string) (*gatewayapi.EventView, error) {
	if e.Log == nil {
		return nil, ErrOff
	}
	recs, err := e.Log.Find(ctx, attempts.Query{EventID: id})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no attempt logged for event %q", gatewayapi.ErrNotFound, id)
	}
	v := &gatewayapi.EventView{ID: id, Type: recs[0].Type, Attempts: recs}
	if stream, err := e.JS.Stream(ctx, recs[0].Stream); err == nil {
		if m, err := stream.GetMsg(ctx, recs[0].StreamSeq); err == nil {
			v.Subject, v.Data, v.Headers, v.Time = m.Subject, m.Data, m.Header, m.Time
		}
	}
	return v, nil
}
