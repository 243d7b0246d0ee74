// Package replicas is how the replicas of one gateway learn of each other:
// each puts its key replicas.<id> in the state bucket every HeartbeatEvery
// and counts the keys written within the last three beats. A sink's
// rate_limit is for the sink as a whole, so each replica keeps to rate/N;
// nothing per event goes through KV.
package replicas

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// HeartbeatEvery is how often a replica records itself; a replica not
// heard from for three beats no longer counts.
var HeartbeatEvery = 2 * time.Second

// KV is what the heartbeat needs of the state bucket.
type KV interface {
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
	ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error)
}

func key(id string) string { return "replicas." + id }

// Heartbeat records this replica and counts the live ones while Run runs,
// then removes its key so the others take its share at once.
type Heartbeat struct {
	KV  KV
	Log *slog.Logger
	// AdminAddr is the admin API's bound address: its port labels the id.
	AdminAddr string

	live atomic.Int64 // ≥1 once counted; 0 reads as 1
}

// Count is how many replicas deliver now, this one included.
func (h *Heartbeat) Count() int { return int(max(1, h.live.Load())) }

var keyUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// ID names this replica for this process's life: the host (a pod's name)
// and the admin port as a readable label, and a random part drawn at
// start. Host and port alone do not tell replicas apart (two containers
// in one pod network, two hosts named alike, listeners on two addresses
// of one host), and replicas sharing a key count as one, so each would
// take the whole of a shared rate_limit. A replica that dies without
// removing its key is counted for three beats more: its share is given
// out late, never twice.
func ID(adminAddr string) string {
	host, _ := os.Hostname()
	_, port, _ := net.SplitHostPort(adminAddr)
	label := strings.Trim(keyUnsafe.ReplaceAllString(strings.ToLower(host), "_")+"-"+port, "_-")
	return label + "-" + strings.ToLower(rand.Text()[:12])
}

// Run beats every HeartbeatEvery until ctx ends, under an id drawn anew.
func (h *Heartbeat) Run(ctx context.Context) {
	id := ID(h.AdminAddr)
	k := key(id)
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
		if err := h.beat(bctx, id); err != nil && ctx.Err() == nil {
			// The count stays as it was: an election is no reason to
			// change the rate.
			h.Log.Debug("replica heartbeat", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = h.KV.Delete(dctx, k)
			cancel()
			return
		case <-t.C:
		}
	}
}

// beat puts this replica's key and counts the keys put within three beats.
func (h *Heartbeat) beat(ctx context.Context, id string) error {
	k := key(id)
	if _, err := h.KV.Put(ctx, k, []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("put %s: %w", k, err)
	}
	keys, err := h.KV.ListKeysFiltered(ctx, key("*"))
	if err != nil {
		return fmt.Errorf("list replicas: %w", err)
	}
	live := int64(0)
	for other := range keys.Keys() {
		e, err := h.KV.Get(ctx, other)
		if err != nil {
			continue // deleted meanwhile
		}
		if other == k || time.Since(e.Created()) < 3*HeartbeatEvery {
			live++
		}
	}
	if live == 0 {
		live = 1
	}
	if prev := h.live.Swap(live); prev != live {
		h.Log.Info("replicas delivering", "count", live, "replica", id)
	}
	return nil
}
