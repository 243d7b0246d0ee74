package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// ErrAttemptLogOff is returned by attempt queries when the log is disabled.
var ErrAttemptLogOff = errors.New("the attempt log is off (attempts.enabled: false)")

// eventLog is the admin API's events role: the attempt log, and the
// stream that holds each event's body.
type eventLog struct {
	log *attempts.Log // nil when the attempt log is off
	js  jetstream.JetStream
	// incarnation names the sink called name as this replica knows it.
	incarnation func(name string) string
}

// Attempts finds the logged attempts q selects.
func (e eventLog) Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error) {
	if e.log == nil {
		return nil, ErrAttemptLogOff
	}
	if q.Sink != "" && q.Incarnation == "" {
		// The log is kept by name: a sink deleted and created again
		// shows only its own attempts.
		q.Incarnation = e.incarnation(q.Sink)
	}
	return e.log.Find(ctx, q)
}

// Event is the event as the stream holds it, and every attempt to
// deliver it, across sinks.
func (e eventLog) Event(ctx context.Context, id string) (*gatewayapi.EventView, error) {
	if e.log == nil {
		return nil, ErrAttemptLogOff
	}
	recs, err := e.log.Find(ctx, attempts.Query{EventID: id})
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: no attempt logged for event %q", gatewayapi.ErrNotFound, id)
	}
	v := &gatewayapi.EventView{ID: id, Type: recs[0].Type, Attempts: recs}
	if stream, err := e.js.Stream(ctx, recs[0].Stream); err == nil {
		if m, err := stream.GetMsg(ctx, recs[0].StreamSeq); err == nil {
			v.Subject, v.Data, v.Headers, v.Time = m.Subject, m.Data, m.Header, m.Time
		}
	}
	return v, nil
}

// incarnationOf is the incarnation of the sink called name as this
// replica runs or stores it, "" when there is none (deleted).
func (g *Gateway) incarnationOf(name string) string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if rs := g.byName[name]; rs != nil {
		return rs.cfg.Incarnation
	}
	if a := g.api[name]; a != nil {
		return a.Rec.Incarnation(name)
	}
	return ""
}
