package admin_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard-dev/switchyard/pkg/admin"
	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// recorder records the queries the API hands it: the events, dead-letter
// and replay roles, over no data.
type recorder struct {
	attempts attempts.Query
	filter   deadletter.Filter
}

var (
	_ admin.Events      = (*recorder)(nil)
	_ admin.DeadLetters = (*recorder)(nil)
	_ admin.Replays     = (*recorder)(nil)
)

func (r *recorder) roles() admin.Roles {
	return admin.Roles{Events: r, DeadLetters: r, Replays: r}
}

func (r *recorder) Attempts(_ context.Context, q attempts.Query) ([]attempts.Record, error) {
	r.attempts = q
	return []attempts.Record{{EventID: "evt_1"}}, nil
}

func (r *recorder) Event(_ context.Context, id string) (*gatewayapi.EventView, error) {
	return nil, fmt.Errorf("%w: no attempt logged for event %q", gatewayapi.ErrNotFound, id)
}

// known is the one sink the recorder has.
func known(sink string) error {
	if sink != "orders" {
		return fmt.Errorf("%w %q", gatewayapi.ErrUnknownSink, sink)
	}
	return nil
}

func (r *recorder) DeadLetters(_ context.Context, sink string, f deadletter.Filter) ([]deadletter.Record, error) {
	if err := known(sink); err != nil {
		return nil, err
	}
	r.filter = f
	return nil, nil
}

func (r *recorder) Redrive(_ context.Context, sink string, f deadletter.Filter) (int, error) {
	r.filter = f
	return 0, known(sink)
}

func (r *recorder) PurgeDeadLetters(_ context.Context, sink string, f deadletter.Filter) (int, error) {
	r.filter = f
	return 0, known(sink)
}

func (r *recorder) StartReplay(_ context.Context, sink string, _ gatewayapi.ReplayRequest) (gatewayapi.ReplayStatus, error) {
	return gatewayapi.ReplayStatus{}, known(sink)
}

func (r *recorder) Replays() []gatewayapi.ReplayStatus { return nil }

func (r *recorder) Replay(id string) (gatewayapi.ReplayStatus, error) {
	return gatewayapi.ReplayStatus{}, fmt.Errorf("%w: replay %q", gatewayapi.ErrNotFound, id)
}

func (r *recorder) CancelReplay(id string) (gatewayapi.ReplayStatus, error) {
	return r.Replay(id)
}

// The client's typed queries arrive at the backend as they were sent:
// attempts as dead letters.
func TestClientTypedQueriesRoundTrip(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(admin.Handler(rec.roles(), "", prometheus.NewRegistry()))
	defer srv.Close()
	c := &admin.Client{BaseURL: srv.URL}
	ctx := context.Background()
	since, until := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC)

	q := attempts.Query{Sink: "orders", EventID: "evt_1", Type: "order.*", Status: 500, Outcome: "retry", Since: since, Until: until, Limit: 7}
	recs, err := c.Attempts(ctx, q)
	if err != nil || len(recs) != 1 || recs[0].EventID != "evt_1" {
		t.Fatalf("Attempts = %v, %v", recs, err)
	}
	if !reflect.DeepEqual(rec.attempts, q) {
		t.Errorf("backend got %+v, want %+v", rec.attempts, q)
	}

	f := deadletter.Filter{Type: "order.*", Tenant: "acme", Reason: "permanent", Since: since, Until: until, Offset: 2, Limit: 3}
	if _, err := c.DeadLetters(ctx, "orders", f); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.filter, f) {
		t.Errorf("backend got %+v, want %+v", rec.filter, f)
	}
}

// The routing table answers a query it cannot read with 400 and the
// backend's unknown-sink and not-found errors with 404.
func TestRouteErrors(t *testing.T) {
	srv := httptest.NewServer(admin.Handler((&recorder{}).roles(), "", prometheus.NewRegistry()))
	defer srv.Close()
	c := &admin.Client{BaseURL: srv.URL}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty query", func() error { _, err := c.Attempts(ctx, attempts.Query{}); return err }, ""},
		{"unknown sink", func() error { _, err := c.DeadLetters(ctx, "nope", deadletter.Filter{}); return err }, "404"},
		{"unknown replay", func() error { _, err := c.Replay(ctx, "x"); return err }, "404"},
	} {
		err := tc.call()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.want)
		}
	}
	// A query string the API cannot read is a 400 with its reason.
	resp, err := srv.Client().Get(srv.URL + "/v1/attempts?limit=-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("limit=-1: status %d, want 400", resp.StatusCode)
	}
}
