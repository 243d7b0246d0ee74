package demo

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/switchyard-dev/switchyard/internal/pubsubfake"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

// Pub/Sub refuses a request whole, so an event the script never fails
// is refused with its bundle mates. On a loaded machine an event's
// retries can keep meeting new scripted first attempts until the demo's
// four attempts are spent and it is dead-lettered (the demo promises none
// for Pub/Sub). A request carrying an event already refused twice must go
// through: the script fails nothing past its second attempt.
func TestPubSubScriptNeverDeadLettersABundleMate(t *testing.T) {
	r := &psReactor{t: &tally{delivered: map[string]time.Duration{}}, attempts: map[string]int{}}
	react := &pubsubfake.RefusePublish{Refuse: r.refuse}
	var failing []string
	for i := 0; len(failing) < 4; i++ {
		id := fmt.Sprintf("evt-%d", i)
		if script(id, 1) == 503 || script(id, 1) == 500 {
			failing = append(failing, id)
		}
	}
	innocent := ""
	for i := 0; innocent == ""; i++ {
		if id := fmt.Sprintf("ok-%d", i); script(id, 1) == 0 && script(id, 2) == 0 {
			innocent = id
		}
	}
	msg := func(id string) *pubsubpb.PubsubMessage {
		return &pubsubpb.PubsubMessage{Attributes: map[string]string{event.AttrID: id}}
	}
	for attempt, mate := range failing {
		refused, _, _ := react.React(&pubsubpb.PublishRequest{Messages: []*pubsubpb.PubsubMessage{msg(innocent), msg(mate)}})
		if !refused {
			return
		}
		if attempt+1 >= 3 {
			t.Fatalf("attempt %d of %s refused for its bundle mate %s: the demo's fourth attempt would dead-letter it", attempt+1, innocent, mate)
		}
	}
	t.Fatalf("%s refused on every attempt", innocent)
}
