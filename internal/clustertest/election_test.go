package clustertest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// A replica started while the cluster has no JetStream leader (two of the
// three nodes down: no quorum, so no election can finish) does not exit:
// /readyz says what it waits for, and once the nodes are back it becomes
// ready and delivers. A running replica rides it out too. (Before the
// start-up retries, such a replica exited after 5 s with "bus: stream
// EVENTS: context deadline exceeded".)
func TestReplicaStartsWithoutJetStreamLeader(t *testing.T) {
	skipShort(t)
	t.Parallel()
	c := startCluster(t)
	s := startSinks(t)
	hook := s.hookYAML("4s")
	first := startReplica(t, 1, c.URL(), "", hook, s.env)
	first.waitReady(60 * time.Second)

	c.nodes[0].kill()
	c.nodes[1].kill()
	second := startReplica(t, 2, c.URL(), "", hook, s.env)
	var body string
	testutil.WaitFor(t, 30*time.Second, "/readyz saying what start-up waits for", func() bool {
		var code int
		code, body = second.readyz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "starting: waiting for")
	})
	t.Logf("while no leader can be elected: /readyz %s", strings.TrimSpace(body))
	// Twice the old give-up time: a replica that still gave up would
	// have exited within it.
	testutil.Holds(t, 10*time.Second, "both replicas running", func() bool {
		return len(first.exits()) == 0 && len(second.exits()) == 0
	})
	for _, r := range []*replica{first, second} {
		if ex := r.exits(); len(ex) > 0 {
			t.Fatalf("%s", ex[0])
		}
	}
	if code, _ := second.readyz(); code == http.StatusOK {
		t.Fatal("ready without a JetStream leader")
	}

	back := time.Now()
	c.nodes[0].start()
	c.nodes[1].start()
	second.waitReady(90 * time.Second)
	first.waitReady(60 * time.Second)
	readyAfter := time.Since(back)

	_, js := c.connect()
	pub := &publisher{js: js}
	const n = 500
	if err := pub.run(context.Background(), n, 500, 8); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "every event delivered", func() bool { return s.hookDone(n) })
	if s.hookByReplica(2) == 0 {
		t.Error("the replica started without a leader delivered nothing")
	}
	for _, r := range []*replica{first, second} {
		for _, e := range r.exits() {
			t.Error(e)
		}
	}
	t.Logf("ready %s after the nodes came back; %d events delivered (%d by the late replica); JetStream calls it retried: %d",
		readyAfter.Round(100*time.Millisecond), n, s.hookByReplica(2), second.logCount("waiting for the NATS cluster"))
}
