package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchyard-dev/switchyard/pkg/admin"
)

// ingestRow is one token's or source's ingest counts.
type ingestRow struct {
	kind, name string
	requests   map[string]float64 // outcome → requests
	events     map[string]float64 // outcome → events
	bytes      float64
}

// printIngest adds the ingest API's counts to `switchyard status`, read
// from the admin API's /metrics (the counters Prometheus scrapes); nothing
// when the gateway has no ingest listener.
func printIngest(ctx context.Context, w io.Writer, c *admin.Client) error {
	rows, err := ingestCounts(ctx, c)
	if err != nil || len(rows) == 0 {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INGEST\tNAME\tREQUESTS\tEVENTS STORED\tDUPLICATES\tUNAVAILABLE\tUNAUTHORIZED\tFORBIDDEN\tINVALID\tRATE LIMITED\tBYTES")
	for _, r := range rows {
		total := 0.0
		for _, v := range r.requests {
			total += v
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", r.kind, r.name, total,
			r.events["accepted"], r.events["duplicate"], r.events["unavailable"],
			r.requests["unauthorized"], r.requests["forbidden"], r.requests["invalid"]+r.requests["too_large"], r.requests["rate_limited"], r.bytes)
	}
	return tw.Flush()
}

func ingestCounts(ctx context.Context, c *admin.Client) ([]ingestRow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("/metrics: %w", err)
	}
	byKey := map[string]*ingestRow{}
	row := func(m *dto.Metric) (*ingestRow, string) {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		key := l["kind"] + "/" + l["name"]
		r := byKey[key]
		if r == nil {
			r = &ingestRow{kind: l["kind"], name: l["name"], requests: map[string]float64{}, events: map[string]float64{}}
			byKey[key] = r
		}
		return r, l["outcome"]
	}
	for _, m := range families["switchyard_ingest_requests_total"].GetMetric() {
		r, outcome := row(m)
		r.requests[outcome] += m.GetCounter().GetValue()
	}
	for _, m := range families["switchyard_ingest_events_total"].GetMetric() {
		r, outcome := row(m)
		r.events[outcome] += m.GetCounter().GetValue()
	}
	for _, m := range families["switchyard_ingest_bytes_total"].GetMetric() {
		r, _ := row(m)
		r.bytes += m.GetCounter().GetValue()
	}
	var out []ingestRow
	for _, r := range byKey {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].kind != out[j].kind {
			return out[i].kind > out[j].kind // tokens, then sources
		}
		return out[i].name < out[j].name
	})
	return out, nil
}
