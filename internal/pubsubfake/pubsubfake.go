// Package pubsubfake fits pstest, Google's in-process Pub/Sub fake, to
// Switchyard's events: a reactor that refuses publish requests by the
// event ids they carry, for the demo's scripted failures and for tests.
package pubsubfake

import (
	"sync"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

// RefusePublish is a pstest reactor (for pstest.ServerReactorOption with
// FuncName "Publish") that asks Refuse about each publish request, given
// the event ids of its messages (the id attribute) in order. A non-nil
// error fails the whole request with it, as Pub/Sub refuses a request,
// never one of its messages. Calls to Refuse are serialized.
type RefusePublish struct {
	mu     sync.Mutex
	Refuse func(ids []string) error
}

// React implements pstest.Reactor.
func (r *RefusePublish) React(req any) (bool, any, error) {
	pr, ok := req.(*pubsubpb.PublishRequest)
	if !ok {
		return false, nil, nil
	}
	ids := make([]string, len(pr.Messages))
	for i, m := range pr.Messages {
		ids[i] = m.Attributes[event.AttrID]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.Refuse(ids); err != nil {
		return true, nil, err
	}
	return false, nil, nil
}
