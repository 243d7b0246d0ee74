package clustertest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// The leaders of the events stream, of each sink's consumer and of the
// state bucket move to another node again and again mid-delivery (the
// JetStream API's step-down requests): every event reaches every sink,
// nothing is dead-lettered, no replica exits. The sinks are dedicated,
// then shared (at a reduced size), whose leaders moved are the deliveries
// stream's and the matchers' and deliverers' consumers'.
func TestLeaderStepDownLosesNothing(t *testing.T) {
	skipShort(t)
	t.Parallel() // the fault tests wait on clocks more than CPU: ~3 min together
	t.Run("dedicated", func(t *testing.T) {
		leaderStepDowns(t, "dedicated", 3000, []string{
			"$JS.API.STREAM.LEADER.STEPDOWN.EVENTS",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.EVENTS.hook",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.EVENTS.bus",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.EVENTS.topic",
			"$JS.API.STREAM.LEADER.STEPDOWN.KV_SWITCHYARD_STATE",
		})
	})
	t.Run("shared", func(t *testing.T) {
		leaderStepDowns(t, "shared", 1500, []string{
			"$JS.API.STREAM.LEADER.STEPDOWN.EVENTS",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.EVENTS.switchyard_match",
			"$JS.API.STREAM.LEADER.STEPDOWN.SWITCHYARD_DELIVERIES",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.SWITCHYARD_DELIVERIES.switchyard_deliver_0",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.SWITCHYARD_DELIVERIES.switchyard_deliver_1",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.SWITCHYARD_DELIVERIES.switchyard_deliver_2",
			"$JS.API.CONSUMER.LEADER.STEPDOWN.SWITCHYARD_DELIVERIES.switchyard_deliver_3",
			"$JS.API.STREAM.LEADER.STEPDOWN.KV_SWITCHYARD_STATE",
		})
	})
}

func leaderStepDowns(t *testing.T, delivery string, n int, subjects []string) {
	const rate = 300
	c := startCluster(t)
	s := startSinks(t)
	s.delivery = delivery
	reps := startReplicas(t, c, s, 3)
	nc, js := c.connect()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	moved := map[string]int{}
	stepped := make(chan struct{})
	go func() {
		defer close(stepped)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			subj := subjects[i%len(subjects)]
			msg, err := nc.Request(subj, nil, 5*time.Second)
			if err != nil {
				continue
			}
			var resp struct {
				Success bool `json:"success"`
			}
			if json.Unmarshal(msg.Data, &resp) == nil && resp.Success {
				moved[subj]++
			}
		}
	}()
	pub := &publisher{js: js}
	if err := pub.run(context.Background(), n, rate, 16); err != nil {
		t.Fatal(err)
	}
	stop()
	<-stepped
	testutil.WaitFor(t, 90*time.Second, "every event on every sink", func() bool { return s.all(n) })
	total := 0
	for _, subj := range subjects {
		if moved[subj] == 0 {
			t.Errorf("no step-down through %s succeeded", subj)
		}
		total += moved[subj]
	}
	if dl := deadLetters(js); dl != 0 {
		t.Errorf("dead letters: %d", dl)
	}
	for _, r := range reps {
		for _, e := range r.exits() {
			t.Error(e)
		}
	}
	dups := 0
	for _, ctr := range s.byName() {
		u, all := ctr.counts()
		dups += all - u
	}
	t.Logf("leader step-downs: %d (%v); 3 sinks × %d events all delivered, duplicates %d, lost 0", total, moved, n, dups)
}
