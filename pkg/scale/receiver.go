package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// behaviour is how an endpoint of the receiver answers.
type behaviour int

const (
	healthy behaviour = iota
	failing           // answers 503
	hanging           // answers after the sink's timeout has passed
	paused            // healthy, but paused through the API before the events and resumed later
)

func (b behaviour) String() string {
	return [...]string{"healthy", "failing", "hanging", "paused"}[b]
}

// hangFor is how long a hanging endpoint holds a request when the
// gateway does not give up on it first (its timeout is 1 s).
const hangFor = 5 * time.Second

// hit is what the receiver saw of one event at one endpoint.
type hit struct {
	first time.Time // the first request's arrival
	n     int       // requests
}

// receiver is the loopback HTTP server every endpoint points at: endpoint
// i is /e/<tenant>/<n>. It records, per endpoint and event id (the
// webhook-id header), the first request's arrival and the requests.
type receiver struct {
	srv   *http.Server
	ln    net.Listener
	url   string
	index map[string]int // path → endpoint
	how   []behaviour

	mu   sync.Mutex
	hits []map[string]*hit // per endpoint: event id → hit
}

func startReceiver(paths []string, how []behaviour) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{ln: ln, url: "http://" + ln.Addr().String(), index: make(map[string]int, len(paths)),
		how: how, hits: make([]map[string]*hit, len(paths))}
	for i, p := range paths {
		rc.index[p] = i
		rc.hits[i] = map[string]*hit{}
	}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)
	i, ok := rc.index[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	h := rc.hits[i][id]
	if h == nil {
		h = &hit{first: now}
		rc.hits[i][id] = h
	}
	h.n++
	rc.mu.Unlock()
	switch rc.how[i] {
	case failing:
		w.WriteHeader(http.StatusServiceUnavailable)
	case hanging:
		select {
		case <-r.Context().Done():
		case <-time.After(hangFor):
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// seen returns endpoint i's hit for event id.
func (rc *receiver) seen(i int, id string) (hit, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	h, ok := rc.hits[i][id]
	if !ok {
		return hit{}, false
	}
	return *h, true
}

// pairs counts the (endpoint, event) pairs of p that reached the
// endpoints, those that first arrived before `before` only when it is set.
func (rc *receiver) pairs(endpoints []int, top *topology, p *published, before time.Time) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, i := range endpoints {
		for _, id := range p.ids[top.tenant[i]] {
			if h, ok := rc.hits[i][id]; ok && (before.IsZero() || h.first.Before(before)) {
				n++
			}
		}
	}
	return n
}

func (rc *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rc.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Println("receiver:", err)
	}
	_ = rc.srv.Close()
}
