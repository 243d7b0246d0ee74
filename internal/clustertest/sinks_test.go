package clustertest_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"github.com/switchyard-dev/switchyard/internal/fakeeb"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// counter counts deliveries per event id, and when each id first came.
type counter struct {
	mu    sync.Mutex
	seen  map[string]int
	first map[string]time.Time
	total int
}

func newCounter() *counter {
	return &counter{seen: map[string]int{}, first: map[string]time.Time{}}
}

func (c *counter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[id] == 0 {
		c.first[id] = time.Now()
	}
	c.seen[id]++
	c.total++
}

// counts is how many distinct ids arrived, and how many deliveries.
func (c *counter) counts() (unique, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), c.total
}

// missing lists the ids of evt-00000…evt-(n-1) that never arrived.
func (c *counter) missing(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i := range n {
		if c.seen[eventID(i)] == 0 {
			out = append(out, eventID(i))
		}
	}
	return out
}

// firstArrivals are the times ids first arrived, in no order.
func (c *counter) firstArrivals() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(c.first))
	for _, at := range c.first {
		out = append(out, at)
	}
	return out
}

// sinks are the three destinations of the fault tests: a TLS webhook
// receiver, the PutEvents fake through the AWS SDK, and pstest.
type sinks struct {
	hook, bus, topic *counter
	hookSrv          *httptest.Server
	caFile           string
	eb               *fakeeb.Server
	ps               *pstest.Server
	psSeen           int // pstest messages already counted
	env              []string
	// delivery is every sink's: dedicated (the default) or shared.
	delivery string
	// hookStatus, when set, answers the webhook instead of 200.
	hookMu     sync.Mutex
	hookStatus func(id string) int
	hookBy     map[string]int // webhook deliveries by replica (its URL's last segment)
}

func startSinks(t *testing.T) *sinks {
	t.Helper()
	s := &sinks{hook: newCounter(), bus: newCounter(), topic: newCounter(),
		hookBy: map[string]int{},
		env:    []string{"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true"}}
	s.hookSrv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		s.hookMu.Lock()
		status := s.hookStatus
		s.hookBy[path.Base(r.URL.Path)]++
		s.hookMu.Unlock()
		if status != nil {
			if code := status(id); code != http.StatusOK {
				w.WriteHeader(code)
				return
			}
		}
		s.hook.add(id)
	}))
	t.Cleanup(s.hookSrv.Close)
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.hookSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s.eb = fakeeb.New()
	t.Cleanup(s.eb.Close)
	// Counted as they come: decoding every entry at each check would cost
	// more than the deliveries.
	s.eb.OnEntry = func(e fakeeb.Entry, _ time.Time) { s.bus.add(envelopeID(e.Detail)) }
	s.ps = pstest.NewServer()
	t.Cleanup(func() { _ = s.ps.Close() })
	if _, err := s.ps.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/proj/topics/events"}); err != nil {
		t.Fatal(err)
	}
	return s
}

// pollTopic counts the Pub/Sub messages that arrived since the last poll.
func (s *sinks) pollTopic() {
	msgs := s.ps.Messages()
	for _, m := range msgs[s.psSeen:] {
		s.topic.add(m.Attributes["id"])
	}
	s.psSeen = len(msgs)
}

// retrySchedule leaves room for many kills during one event's life: an
// event whose deliveries were interrupted by crashes must not run out of
// attempts and be dead-lettered.
const retrySchedule = "[200ms, 500ms, 1s, 1s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s, 2s]"

// hookYAML is the webhook sink. Its URL ends in the replica's id (from
// the environment, so the config file is the same for all), which tells
// the receiver who delivered.
func (s *sinks) hookYAML(ackWait string) string {
	return fmt.Sprintf(`
  - name: hook
    events: [">"]
    delivery: %[6]s
    concurrency: 16
    ack_wait: %[1]s
    retry: {schedule: %[2]s}
    webhook:
      url: %[3]s/hook/${SWITCHYARD_REPLICA}
      secrets: [%[4]q]
      timeout: 2s
      allow_private_networks: true
      tls: {ca_file: %[5]q}
`, ackWait, retrySchedule, s.hookSrv.URL, secret, s.caFile, s.deliveryMode())
}

// deliveryMode is the sinks' delivery.
func (s *sinks) deliveryMode() string {
	if s.delivery == "" {
		return "dedicated"
	}
	return s.delivery
}

// hookByReplica is how many webhook deliveries replica id made.
func (s *sinks) hookByReplica(id int) int {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	return s.hookBy[fmt.Sprint(id)]
}

// yaml is the three sinks' config, the same for every replica.
func (s *sinks) yaml(ackWait string) string {
	return s.hookYAML(ackWait) + fmt.Sprintf(`
  - name: bus
    events: [">"]
    delivery: %[5]s
    concurrency: 4
    ack_wait: %[1]s
    batch: {max_events: 10, max_wait: 20ms}
    retry: {schedule: %[2]s}
    eventbridge: {bus: default, region: us-east-1, source: com.example.switchyard, endpoint: %[3]q, timeout: 2s}
  - name: topic
    events: [">"]
    delivery: %[5]s
    concurrency: 4
    ack_wait: %[1]s
    batch: {max_events: 50, max_wait: 20ms}
    retry: {schedule: %[2]s}
    pubsub: {project: proj, topic: events, endpoint: %[4]q, timeout: 2s}
`, ackWait, retrySchedule, s.eb.URL, s.ps.Addr, s.deliveryMode())
}

// windows is how many events one replica may hold unsettled per sink
// (the dispatcher's window: 2 × concurrency × batch size).
var windows = map[string]int{"hook": 2 * 16 * 1, "bus": 2 * 4 * 10, "topic": 2 * 4 * 50}

// all reports whether every sink has every one of n events.
func (s *sinks) all(n int) bool {
	s.pollTopic()
	for _, c := range []*counter{s.hook, s.bus, s.topic} {
		if u, _ := c.counts(); u < n {
			return false
		}
	}
	return true
}

// hookDone reports whether the webhook has every one of n events.
func (s *sinks) hookDone(n int) bool {
	u, _ := s.hook.counts()
	return u >= n
}

func (s *sinks) progress(n int) string {
	s.pollTopic()
	h, _ := s.hook.counts()
	b, _ := s.bus.counts()
	p, _ := s.topic.counts()
	return fmt.Sprintf("webhook %d, eventbridge %d, pubsub %d of %d", h, b, p, n)
}

func (s *sinks) byName() map[string]*counter {
	return map[string]*counter{"hook": s.hook, "bus": s.bus, "topic": s.topic}
}
