package clustertest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// A replica cut off from every NATS node (its links go through proxies
// that stop forwarding) stops delivering within its AckWait; the events it
// held are redelivered by the other two; /readyz says not ready while it
// cannot reach JetStream; when the link returns it is ready again and
// delivers its share; nothing is lost. The sink is dedicated, then shared
// (at a reduced size).
func TestReplicaCutOffStopsAndRejoins(t *testing.T) {
	skipShort(t)
	t.Parallel() // the fault tests wait on clocks more than CPU: ~3 min together
	t.Run("dedicated", func(t *testing.T) { replicaCutOff(t, "dedicated", 2500, 1500) })
	t.Run("shared", func(t *testing.T) { replicaCutOff(t, "shared", 1200, 600) })
}

func replicaCutOff(t *testing.T, delivery string, n, after int) {
	const rate, ackWait = 200, 3 * time.Second
	c := startCluster(t)
	s := startSinks(t)
	s.delivery = delivery
	// A receiver that takes a while, so the replica holds deliveries in
	// flight when it is cut off.
	s.hookStatus = func(string) int { time.Sleep(30 * time.Millisecond); return http.StatusOK }
	var proxies []*proxy
	var viaProxy []string
	for _, port := range c.ports {
		p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
		proxies = append(proxies, p)
		viaProxy = append(viaProxy, "nats://"+p.Addr())
	}
	hook := s.hookYAML(ackWait.String())
	reps := []*replica{
		startReplica(t, 1, c.URL(), "", hook, s.env),
		startReplica(t, 2, c.URL(), "", hook, s.env),
		startReplica(t, 3, strings.Join(viaProxy, ","), "", hook, s.env),
	}
	for _, r := range reps {
		r.waitReady(60 * time.Second)
	}
	cutOff := reps[2]
	defer func() {
		if t.Failed() {
			t.Logf("%s log tail:\n%s", cutOff.name, tail(cutOff.logPath, 30))
		}
	}()
	_, js := c.connect()
	pub := &publisher{js: js}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.run(context.Background(), n, rate, 8) }()

	testutil.WaitFor(t, 20*time.Second, "the replica delivering before the cut", func() bool { return s.hookByReplica(3) > 50 })
	for _, p := range proxies {
		p.Cut()
	}
	cutAt := time.Now()
	atCut := s.hookByReplica(3)

	testutil.WaitFor(t, 20*time.Second, "/readyz not ready while cut off", func() bool {
		code, _ := cutOff.readyz()
		return code == http.StatusServiceUnavailable
	})
	notReadyAfter := time.Since(cutAt)
	// What it held when cut may still go out; after its AckWait, nothing.
	time.Sleep(time.Until(cutAt.Add(ackWait + time.Second)))
	settled := s.hookByReplica(3)
	othersBefore := s.hookByReplica(1) + s.hookByReplica(2)
	// Past its AckWait the cut-off replica holds nothing: in 5s more (well
	// over one AckWait) it delivers nothing, while the others go on.
	testutil.Holds(t, 5*time.Second, "no delivery by the cut-off replica", func() bool { return s.hookByReplica(3) == settled })
	if late := s.hookByReplica(3) - settled; late > 0 {
		t.Errorf("cut off for %s, the replica still delivered %d events", time.Since(cutAt).Round(time.Second), late)
	}
	if s.hookByReplica(1)+s.hookByReplica(2) == othersBefore {
		t.Error("the other replicas stopped delivering too")
	}
	code, body := cutOff.readyz()
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while cut off: %d %s", code, body)
	}

	for _, p := range proxies {
		p.Restore()
	}
	restoredAt := time.Now()
	cutOff.waitReady(60 * time.Second)
	readyAfter := time.Since(restoredAt)
	rejoined := s.hookByReplica(3)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	// Events published after the link returned reach it too.
	more := &publisher{js: js}
	if err := more.runFrom(context.Background(), n, after, 300, 8); err != nil {
		t.Fatal(err)
	}
	total := n + after
	testutil.WaitFor(t, 90*time.Second, "every event delivered", func() bool { return s.hookDone(total) })
	if s.hookByReplica(3) == rejoined {
		t.Error("the replica delivered nothing after the link returned")
	}
	if dl := deadLetters(js); dl != 0 {
		t.Errorf("dead letters: %d", dl)
	}
	for _, r := range reps {
		for _, e := range r.exits() {
			t.Error(e)
		}
	}
	u, all := s.hook.counts()
	t.Logf("cut off: delivered %d before the cut, %d within AckWait after it (redelivered by the others: %d duplicates in all), none later; /readyz not ready %s after the cut, ready %s after the link returned; then %d more; events %d, deliveries %d, lost 0",
		atCut, settled-atCut, all-u, notReadyAfter.Round(100*time.Millisecond), readyAfter.Round(100*time.Millisecond), s.hookByReplica(3)-rejoined, u, all)
}
