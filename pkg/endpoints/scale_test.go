package endpoints_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/internal/gatewaytest"
	"github.com/switchyard-dev/switchyard/internal/testutil"
)

// TestCreateCostByCount measures what one API create costs as the number
// of sinks grows: it creates N webhook sinks through the endpoints API on
// one gateway (embedded JetStream) and reports the time of the last 100
// creates. A change of one sink must cost the same whatever the number
// of the others. It is a measurement and runs only when asked:
//
//	SWITCHYARD_CREATE_N=1000,5000 go test ./pkg/endpoints -run TestCreateCostByCount -v -timeout 30m
//
// SWITCHYARD_CREATE_DELIVERY picks the sinks' delivery (shared by default);
// SWITCHYARD_CREATE_CLIENTS=8 creates through 8 concurrent clients (1 by
// default) and then reports the last 100 creates of each client.
func TestCreateCostByCount(t *testing.T) {
	spec := os.Getenv("SWITCHYARD_CREATE_N")
	if spec == "" {
		t.Skip("a measurement: set SWITCHYARD_CREATE_N=1000,5000 to run it")
	}
	clients, _ := strconv.Atoi(os.Getenv("SWITCHYARD_CREATE_CLIENTS"))
	clients = max(clients, 1)
	delivery := os.Getenv("SWITCHYARD_CREATE_DELIVERY")
	if delivery == "" {
		delivery = "shared"
	}
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 {
			t.Fatalf("SWITCHYARD_CREATE_N: %q: want counts of at least 100", f)
		}
		t.Run(strconv.Itoa(n), func(t *testing.T) { measureCreates(t, n, clients, delivery) })
	}
}

func measureCreates(t *testing.T, n, clients int, delivery string) {
	rc := testutil.NewReceiver(t)
	g, _ := gatewaytest.Run(t, gatewaytest.Options{Top: "api: {allow: [tls_files, private_networks]}\nlog: {level: warn}\n", StopWithin: 5 * time.Minute})
	eps := g.Admin().Endpoints
	ctx := context.Background()
	var mu sync.Mutex
	last := make([]time.Duration, 0, 100*clients)
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += clients {
				body := fmt.Sprintf(`{"name":"s%05d","tenant":"t%d","delivery":%q,"events":["k%d.>"],"webhook":{"url":"%s/s%05d","allow_private_networks":true,"tls":{"ca_file":%q}}}`,
					i, i/10, delivery, i%10, rc.Server.URL, i, rc.CAFile)
				t0 := time.Now()
				if _, err := eps.CreateSink(ctx, []byte(body), "bench"); err != nil {
					errs <- fmt.Errorf("create sink %d: %w", i, err)
					return
				}
				if i >= n-100*clients {
					mu.Lock()
					last = append(last, time.Since(t0))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := time.Since(start)
	sort.Slice(last, func(i, j int) bool { return last[i] < last[j] })
	var sum time.Duration
	for _, d := range last {
		sum += d
	}
	k := len(last)
	fmt.Printf("creates: n=%d clients=%d delivery=%s total=%s last %d: mean=%s median=%s p99=%s\n", n, clients, delivery,
		total.Round(time.Millisecond), k, (sum / time.Duration(k)).Round(10*time.Microsecond), last[k/2].Round(10*time.Microsecond), last[k*99/100].Round(10*time.Microsecond))
}
