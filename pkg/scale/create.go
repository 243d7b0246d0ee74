package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// CreateReport is the creation of the endpoints through POST /v1/sinks.
type CreateReport struct {
	OK     int `json:"ok"`
	Failed int `json:"failed"`
	// Statuses counts the answers by HTTP status (0: no answer).
	Statuses   map[int]int `json:"statuses"`
	FirstError string      `json:"first_error,omitempty"`
	// Latency is each create's time to its answer, failed ones included.
	Latency  Dist    `json:"latency"`
	TotalS   float64 `json:"total_s"`
	RatePerS float64 `json:"rate_per_s"`
}

// sinkBody is an endpoint's create request: every event of its tenant
// to its path at the receiver; in the faulty run a 1 s timeout.
func sinkBody(top *topology, i int, url string, o Options) string {
	hook := map[string]any{"url": url + top.paths[i], "allow_private_networks": true}
	if o.Faulty {
		hook["timeout"] = "1s"
	}
	body := map[string]any{"name": top.name[i], "tenant": tenantID(top.tenant[i]), "events": []string{">"}, "webhook": hook}
	if o.Delivery != "" {
		body["delivery"] = o.Delivery
	}
	b, _ := json.Marshal(body)
	return string(b)
}

// create makes every endpoint with o.Clients concurrent clients, within
// o.CreateTimeout.
func create(ctx context.Context, g *gateway, url string, top *topology, o Options) CreateReport {
	ctx, cancel := context.WithTimeout(ctx, o.CreateTimeout)
	defer cancel()
	rep := CreateReport{Statuses: map[int]int{}}
	lat := make([]time.Duration, 0, len(top.name))
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				code, body, err := g.do(ctx, "POST", "/v1/sinks", sinkBody(top, i, url, o))
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				rep.Statuses[code]++
				if err == nil && code == 201 {
					rep.OK++
					top.created[i] = true
				} else {
					rep.Failed++
					if rep.FirstError == "" {
						if err != nil {
							rep.FirstError = fmt.Sprintf("%s: %v", top.name[i], err)
						} else {
							rep.FirstError = fmt.Sprintf("%s: %d %s", top.name[i], code, truncate(string(body), 500))
						}
					}
				}
				done := rep.OK + rep.Failed
				mu.Unlock()
				if done%1000 == 0 {
					o.progress("… %d of %d created", done, len(top.name))
				}
			}
		}()
	}
feed:
	for i := range top.name {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	total := time.Since(start)
	rep.Latency = distOf(lat)
	rep.TotalS = total.Seconds()
	rep.RatePerS = float64(rep.OK) / total.Seconds()
	if missing := len(top.name) - rep.OK - rep.Failed; missing > 0 {
		rep.Failed += missing
		if rep.FirstError == "" {
			rep.FirstError = fmt.Sprintf("%d not tried: %v", missing, ctx.Err())
		}
	}
	return rep
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
