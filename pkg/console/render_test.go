package console

import (
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
)

func TestShowPayload(t *testing.T) {
	for _, tt := range []struct {
		name, data, kind, has string
	}{
		{"json pretty-printed", `{"a":[1,2]}`, "json", "{\n  \"a\": [\n    1,"},
		{"text as it is", "hello <b>", "text", "hello <b>"},
		{"binary as hex", "\x00\x01\xffabc", "hex", "00000000  00 01 ff 61 62 63"},
		{"empty", "", "text", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := showPayload([]byte(tt.data))
			if p.Kind != tt.kind || !strings.Contains(p.Text, tt.has) || p.Size != len(tt.data) {
				t.Fatalf("%+v", p)
			}
		})
	}
}

func TestChartBucketsPerMinute(t *testing.T) {
	since := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	now := since.Add(59*time.Minute + 30*time.Second)
	recs := []attempts.Record{
		{Time: since.Add(10 * time.Second), Outcome: "delivered"},
		{Time: since.Add(20 * time.Second), Outcome: "retried"},
		{Time: since.Add(5 * time.Minute), Outcome: "dead_lettered"},
		{Time: since.Add(5 * time.Minute), Outcome: "canceled"},
		{Time: since.Add(-time.Minute), Outcome: "delivered"}, // before the window
	}
	c := chartOf(recs, since, now, false)
	if len(c.Bars) != 60 || c.Delivered != 1 || c.Failed != 2 || c.Max != 2 {
		t.Fatalf("bars %d delivered %d failed %d max %d", len(c.Bars), c.Delivered, c.Failed, c.Max)
	}
	b0, b5 := c.Bars[0], c.Bars[5]
	if b0.Delivered != 1 || b0.Failed != 1 || b5.Failed != 1 || b5.Delivered != 0 {
		t.Fatalf("%+v %+v", b0, b5)
	}
	if b0.DH+b0.FH != chartHeight-10 || b0.FY+b0.FH != b0.DY {
		t.Fatalf("the tallest bar should fill the chart, stacked: %+v", b0)
	}
}
