package console

import (
	"strconv"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
)

// chart is delivered and failed attempts per minute, drawn as SVG bars by
// the template (attributes only: the CSP allows no inline style).
type chart struct {
	Bars      []bar
	Max       int
	Delivered int
	Failed    int
	Truncated bool
	Width     int
	Height    int
}

type bar struct {
	X, W              int
	DY, DH, FY, FH    int // delivered and failed rectangles
	Label             string
	Delivered, Failed int
}

const chartHeight = 120

func chartOf(recs []attempts.Record, since, now time.Time, truncated bool) chart {
	n := int(now.Sub(since)/time.Minute) + 1
	n = max(1, min(n, 61))
	c := chart{Bars: make([]bar, n), Truncated: truncated, Height: chartHeight}
	for _, r := range recs {
		i := int(r.Time.Sub(since) / time.Minute)
		if i < 0 || i >= n {
			continue
		}
		switch r.Outcome {
		case "delivered":
			c.Bars[i].Delivered++
			c.Delivered++
		case "canceled":
		default:
			c.Bars[i].Failed++
			c.Failed++
		}
	}
	for _, b := range c.Bars {
		c.Max = max(c.Max, b.Delivered+b.Failed)
	}
	scale := 1.0
	if c.Max > 0 {
		scale = float64(chartHeight-10) / float64(c.Max)
	}
	const w = 10
	c.Width = n * w
	for i := range c.Bars {
		b := &c.Bars[i]
		b.X, b.W = i*w, w-2
		b.DH = int(float64(b.Delivered)*scale + 0.5)
		b.FH = int(float64(b.Failed)*scale + 0.5)
		b.DY = chartHeight - b.DH
		b.FY = b.DY - b.FH
		b.Label = since.Add(time.Duration(i)*time.Minute).UTC().Format("15:04") + ": " + strconv.Itoa(b.Delivered) + " delivered, " + strconv.Itoa(b.Failed) + " failed"
	}
	return c
}
