package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Replicas learn of each other through the state bucket: each puts its key
// replicas.<id> every HeartbeatEvery and counts the keys written within
// the last three beats. A sink's rate_limit is for the sink as a whole, so
// each replica keeps to rate/N; nothing per event goes through KV.

// HeartbeatEvery is how often a replica records itself; a replica not
// heard from for three beats no longer counts.
var HeartbeatEvery = 2 * time.Second

func replicaKey(id string) string { return "replicas." + id }

// peers is what this replica knows of the replicas delivering with it.
type peers struct {
	id   string
	live atomic.Int64 // ≥1 once counted; 0 reads as 1
}

// count is how many replicas deliver now, this one included.
func (p *peers) count() int { return int(max(1, p.live.Load())) }

var keyUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// replicaID names this replica for this process's life: the host (a
// pod's name) and the admin port as a readable label, and a random part
// drawn at start. Host and port alone do not tell replicas apart (two
// containers in one pod network, two hosts named alike, listeners on two
// addresses of one host), and replicas sharing a key count as one, so each
// would take the whole of a shared rate_limit. A replica that dies without
// removing its key is counted for three beats more: its share is given
// out late, never twice.
func replicaID(adminAddr string) string {
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(adminAddr)
	label := strings.Trim(keyUnsafe.ReplaceAllString(strings.ToLower(host), "_")+"-"+port, "_-")
	return label + "-" + strings.ToLower(rand.Text()[:12])
}

// heartbeat records this replica and counts the live ones until ctx ends,
// then removes its key so the others take its share at once.
func (g *Gateway) heartbeat(ctx context.Context) {
	g.peers.id = replicaID(g.AdminAddr())
	key := replicaKey(g.peers.id)
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
		if err := g.beat(bctx, key); err != nil && ctx.Err() == nil {
			// The count stays as it was: an election is no reason to
			// change the rate.
			g.log.Debug("replica heartbeat", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = g.state.Delete(dctx, key)
			cancel()
			return
		case <-t.C:
		}
	}
}

// beat puts this replica's key and counts the keys put within three beats.
func (g *Gateway) beat(ctx context.Context, key string) error {
	if _, err := g.state.Put(ctx, key, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	keys, err := g.state.ListKeysFiltered(ctx, replicaKey("*"))
	if err != nil {
		return fmt.Errorf("list replicas: %w", err)
	}
	live := int64(0)
	for k := range keys.Keys() {
		e, err := g.state.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		if k == key || time.Since(e.Created()) < 3*HeartbeatEvery {
			live++
		}
	}
	if live == 0 {
		live = 1
	}
	if prev := g.peers.live.Swap(live); prev != live {
		g.log.Info("replicas delivering", "count", live, "replica", g.peers.id)
	}
	return nil
}
