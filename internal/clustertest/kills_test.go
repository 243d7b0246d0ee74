package clustertest_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// envInt is a figure of the kill test, def unless the variable name sets
// it, for a longer run by hand: CLUSTERTEST_EVENTS (20000) at
// CLUSTERTEST_RATE per second (400).
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// While 20,000 events flow through three replicas to a webhook, EventBridge
// and Pub/Sub, one NATS node is killed with SIGKILL every 10 s and brought
// back (rotating through the three), and one replica every 7 s and
// restarted at once, often while the cluster is still electing leaders.
// Every event reaches every sink, duplicates stay within what was in
// flight at the kills, nothing is dead-lettered, no replica exits on its
// own, and each replica delivered a share. The sinks are dedicated, then
// shared (at a reduced size, CLUSTERTEST_SHARED_EVENTS at
// CLUSTERTEST_SHARED_RATE, long enough for three kills of each kind).
func TestRotatingKillsLoseNothing(t *testing.T) {
	skipShort(t)
	t.Parallel() // the fault tests wait on clocks more than CPU: ~3 min together
	t.Run("dedicated", func(t *testing.T) {
		rotatingKills(t, "dedicated", envInt("CLUSTERTEST_EVENTS", 20000), envInt("CLUSTERTEST_RATE", 400))
	})
	t.Run("shared", func(t *testing.T) {
		rotatingKills(t, "shared", envInt("CLUSTERTEST_SHARED_EVENTS", 7000), envInt("CLUSTERTEST_SHARED_RATE", 200))
	})
}

func rotatingKills(t *testing.T, delivery string, n, rate int) {
	began := time.Now()
	c := startCluster(t)
	s := startSinks(t)
	s.delivery = delivery
	reps := startReplicas(t, c, s, 3)
	_, js := c.connect()
	defer func() {
		if t.Failed() {
			for _, r := range reps {
				t.Logf("%s log tail:\n%s", r.name, tail(r.logPath, 25))
			}
		}
	}()

	ctx, stopFaults := context.WithCancel(context.Background())
	defer stopFaults()
	scraped := make(chan struct{})
	go func() { // each replica's deliveries, before every kill and meanwhile
		defer close(scraped)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, r := range reps {
					r.scrape()
				}
			}
		}
	}()
	nodeKills, replicaKills := 0, 0
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		nodeTick, replicaTick := time.NewTicker(10*time.Second), time.NewTicker(7*time.Second)
		defer nodeTick.Stop()
		defer replicaTick.Stop()
		down := -1 // the node being brought back, if any
		var back <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				if down >= 0 {
					c.nodes[down].start()
				}
				return
			case <-nodeTick.C:
				if down >= 0 {
					continue
				}
				down = nodeKills % 3
				c.nodes[down].kill()
				nodeKills++
				back = time.After(3 * time.Second)
			case <-back:
				c.nodes[down].start()
				down, back = -1, nil
			case <-replicaTick.C:
				reps[replicaKills%3].restart()
				replicaKills++
			}
		}
	}()

	pub := &publisher{js: js}
	pctx, cancelPub := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancelPub()
	pubStart := time.Now()
	if err := pub.run(pctx, n, rate, 32); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	pubTook := time.Since(pubStart)
	stopFaults()
	<-faultsDone
	<-scraped
	c.waitReady(60 * time.Second)

	progress := ""
	arrived := testutil.Poll(3*time.Minute, func() bool {
		if p := s.progress(n); p != progress {
			progress = p
			t.Logf("%s after publishing: %s", time.Since(pubStart.Add(pubTook)).Round(100*time.Millisecond), progress)
		}
		return s.all(n)
	})
	if !arrived {
		for name, ctr := range s.byName() {
			if m := ctr.missing(n); len(m) > 0 {
				t.Errorf("%s is missing %d events, first %v", name, len(m), m[:min(5, len(m))])
			}
		}
		t.Fatalf("not every event reached every sink: %s", s.progress(n))
	}
	took := time.Since(began)
	for _, r := range reps {
		r.waitReady(60 * time.Second)
		r.scrape()
		for _, e := range r.exits() {
			t.Errorf("%s", e)
		}
	}
	for i, node := range c.nodes {
		for _, e := range node.exits() {
			t.Errorf("node %d: %s", i+1, e)
		}
	}

	published, retries := pub.counts()
	if published != n {
		t.Errorf("published %d of %d", published, n)
	}
	delivered, dups := 0, 0
	for name, ctr := range s.byName() {
		u, total := ctr.counts()
		delivered += total
		dups += total - u
		// Each kill may hand back what one replica held for the sink
		// (a replica kill), or lose acks in flight to the consumer's
		// leader on the node that died (at most the three replicas'
		// windows).
		if bound := (replicaKills + 3*nodeKills + 1) * windows[name]; total-u > bound {
			t.Errorf("%s: %d duplicates, more than the %d that the kills could leave in flight", name, total-u, bound)
		}
	}
	if dl := deadLetters(js); dl != 0 {
		t.Errorf("dead letters: %d, want 0", dl)
	}
	shares, waits := "", 0
	for i, r := range reps {
		waits += r.logCount("waiting for the NATS cluster")
		d := r.delivered()
		shares += fmt.Sprintf(" %s=%.0f (webhook %d)", r.name[len("replica "):], d, s.hookByReplica(i+1))
		if d < float64(n)/20 {
			t.Errorf("%s delivered %.0f of %d events × 3 sinks: no share", r.name, d, n)
		}
	}
	if nodeKills < 3 || replicaKills < 3 {
		t.Errorf("only %d node kills and %d replica kills: the run was too short to rotate", nodeKills, replicaKills)
	}
	t.Logf("published=%d delivered=%d lost=0 duplicates=%d node_kills=%d replica_kills=%d", published, delivered, dups, nodeKills, replicaKills)
	t.Logf("3 sinks × %d events; publishing took %s (%d publish retries); whole test %s; deliveries per replica (metrics, summed over restarts):%s; JetStream calls retried while the cluster elected: %d",
		n, pubTook.Round(time.Second), retries, took.Round(time.Second), shares, waits)
}
