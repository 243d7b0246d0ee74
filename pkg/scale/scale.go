// Package scale measures one gateway with many API-created webhook
// endpoints, as issue 20's figures ask: it runs `switchyard run` as a child
// process (embedded JetStream) so that its memory and CPU are its own,
// creates the endpoints through the admin API with concurrent clients,
// reads the child's memory and idle CPU from /proc, and measures
// publish-to-receipt at a loopback receiver, optionally with failing,
// hanging and paused endpoints. Everything runs on 127.0.0.1 and every
// wait has a deadline.
package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Options are what `switchyard scale` runs.
type Options struct {
	// Binary is the switchyard executable run as the gateway.
	Binary string
	// Endpoints are spread evenly over Tenants (t0, t1, …).
	Endpoints, Tenants int
	// Clients create the endpoints concurrently.
	Clients int
	// Delivery is sent as each endpoint's "delivery" (dedicated or
	// shared); empty: the field is left out and the server's default
	// applies.
	Delivery string
	// Faulty makes every tenth endpoint answer 503, another tenth hang
	// past its 1 s timeout, and pauses every 50th before publishing five
	// events per tenant (the isolation figures).
	Faulty bool
	// CreateTimeout bounds the creation of all endpoints.
	CreateTimeout time.Duration
	// Settle is the wait after the last create before memory is read
	// (5 s); Idle the window of idle CPU (10 s); FanoutWithin how long
	// the events may take to arrive (60 s). The test shortens them.
	Settle, Idle, FanoutWithin time.Duration
	// Later is how long after the events memory is read again (100 s:
	// past a shared sink's dispatcher's 30 s idle stop and the webhook
	// transport's 90 s idle-connection timeout, whose keep-alive
	// connections hold two goroutines each); 0: not read.
	Later time.Duration
	// Command is the command line, reported as is.
	Command string
	// HeapProfile, when set, is the prefix of the child's heap profiles:
	// PREFIX.before.pprof (before the first create), PREFIX.idle.pprof
	// (after the idle window) and PREFIX.later.pprof (Later after the
	// events).
	HeapProfile string
	// Progress receives a line per phase (nil: none).
	Progress io.Writer

	iso isoClock // zero: issue 20's
}

// Defaults are the figures' sizes and windows.
func Defaults() Options {
	return Options{Endpoints: 10000, Tenants: 1000, Clients: 8, CreateTimeout: 30 * time.Minute,
		Settle: 5 * time.Second, Idle: 10 * time.Second, FanoutWithin: 60 * time.Second, Later: 100 * time.Second}
}

func (o *Options) check() error {
	switch {
	case o.Binary == "":
		return errors.New("no switchyard binary to run")
	case o.Endpoints < 1 || o.Tenants < 1 || o.Tenants > o.Endpoints:
		return fmt.Errorf("need 1 ≤ tenants (%d) ≤ endpoints (%d)", o.Tenants, o.Endpoints)
	case o.Clients < 1:
		return fmt.Errorf("clients %d: need at least 1", o.Clients)
	case o.Delivery != "" && o.Delivery != "dedicated" && o.Delivery != "shared":
		return fmt.Errorf("delivery %q: use dedicated or shared (or leave it out for the server's default)", o.Delivery)
	}
	d := Defaults()
	if o.CreateTimeout <= 0 {
		o.CreateTimeout = d.CreateTimeout
	}
	if o.Settle <= 0 {
		o.Settle = d.Settle
	}
	if o.Idle <= 0 {
		o.Idle = d.Idle
	}
	if o.FanoutWithin <= 0 {
		o.FanoutWithin = d.FanoutWithin
	}
	return nil
}

func (o *Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// Run measures; the report holds what was measured even when an error
// stops it part way (and the error in Error).
func Run(ctx context.Context, o Options) (rep *Report, err error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && rep != nil {
			rep.Error = err.Error()
		}
	}()
	top := newTopology(o.Endpoints, o.Tenants, o.Faulty)
	rep = &Report{Command: o.Command, Endpoints: o.Endpoints, Tenants: o.Tenants, Clients: o.Clients,
		Delivery: o.Delivery, Faulty: o.Faulty, Started: time.Now().UTC(), Load: map[string]string{"start": loadavg()}}
	if rep.Delivery == "" {
		rep.Delivery = "server default"
	}
	rc, err := startReceiver(top.paths, top.how)
	if err != nil {
		return rep, fmt.Errorf("start the receiver: %w", err)
	}
	defer rc.close()
	o.progress("starting the gateway (%s run) …", o.Binary)
	g, err := startGateway(ctx, o.Binary, o.Clients)
	if err != nil {
		return rep, err
	}
	defer g.stop()
	pid := g.pid()

	rssBefore, err := rss(pid)
	if err != nil {
		return rep, err
	}
	rep.Memory.RSSBeforeMB = mb(rssBefore)
	rep.Memory.HeapBeforeMB = g.heapMB(ctx)
	if err := o.saveHeap(ctx, g, "before"); err != nil {
		return rep, err
	}
	rep.Goroutines.Before = g.goroutines(ctx)
	rep.Consumers.Before = g.consumers(ctx)

	o.progress("creating %d endpoints over %d tenants with %d clients …", o.Endpoints, o.Tenants, o.Clients)
	rep.Create = create(ctx, g, rc.url, top, o)
	rep.Load["after_create"] = loadavg()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Create.OK == 0 {
		return rep, fmt.Errorf("no endpoint was created: %s", rep.Create.FirstError)
	}
	o.progress("created %d (%d failed) in %.1f s; settling %s …", rep.Create.OK, rep.Create.Failed, rep.Create.TotalS, o.Settle)

	if err := sleep(ctx, o.Settle); err != nil {
		return rep, err
	}
	rssAfter, err := rss(pid)
	if err != nil {
		return rep, err
	}
	rep.Memory.RSSAfterMB, rep.Memory.SettleS = mb(rssAfter), o.Settle.Seconds()
	rep.Memory.PerEndpointKB = float64(rssAfter-rssBefore) / 1024 / float64(o.Endpoints)

	o.progress("idle CPU over %s …", o.Idle)
	cpu0, err := cpuTime(pid)
	if err != nil {
		return rep, err
	}
	wall0 := time.Now()
	if err := sleep(ctx, o.Idle); err != nil {
		return rep, err
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return rep, err
	}
	idle := time.Since(wall0)
	rep.IdleCPU, rep.IdleS = 100*float64(cpu1-cpu0)/float64(idle), idle.Seconds()
	rep.Load["idle"] = loadavg()
	rep.Goroutines.After = g.goroutines(ctx)
	rep.Consumers.After = g.consumers(ctx)
	rep.Memory.HeapAfterMB = g.heapMB(ctx)
	if err := o.saveHeap(ctx, g, "idle"); err != nil {
		return rep, err
	}
	if rep.Memory.HeapBeforeMB >= 0 && rep.Memory.HeapAfterMB >= 0 {
		rep.Memory.HeapPerEndpointKB = (rep.Memory.HeapAfterMB - rep.Memory.HeapBeforeMB) * 1024 / float64(o.Endpoints)
	}

	if o.Faulty {
		o.progress("isolation: pausing every 50th endpoint, then 5 events per tenant …")
		rep.Isolation, err = isolation(ctx, g, rc, top, o)
	} else {
		o.progress("fan-out: one event per tenant …")
		rep.Fanout, err = fanout(ctx, g, rc, top, o)
	}
	rep.Load["end"] = loadavg()
	if err != nil {
		return rep, err
	}
	// After the events: what delivering left behind, at once and once
	// the shared sinks' dispatchers and idle connections have had time to
	// stop.
	if rep.Memory.RSSEndMB, err = rssMB(pid); err != nil {
		return rep, err
	}
	rep.Memory.HeapEndMB = g.heapMB(ctx)
	if o.Later > 0 {
		o.progress("memory %s after the events …", o.Later)
		if err := sleep(ctx, o.Later); err != nil {
			return rep, err
		}
		if rep.Memory.RSSLaterMB, err = rssMB(pid); err != nil {
			return rep, err
		}
		rep.Memory.LaterS = o.Later.Seconds()
		rep.Memory.HeapLaterMB = g.heapMB(ctx)
		rep.Goroutines.Later = g.goroutines(ctx)
		if err := o.saveHeap(ctx, g, "later"); err != nil {
			return rep, err
		}
	}
	// The mode each endpoint runs in, as the gateway reports it (read
	// last: listing thousands of sinks is work the figures must not see).
	rows, err := listSinks(ctx, g)
	if err != nil {
		return rep, err
	}
	rep.Modes = map[string]int{}
	for _, r := range rows {
		d := r.Delivery
		if d == "" {
			d = "unreported"
		}
		rep.Modes[d]++
	}
	return rep, nil
}

// saveHeap keeps the child's heap profile as PREFIX.name.pprof when
// o.HeapProfile is set.
func (o *Options) saveHeap(ctx context.Context, g *gateway, name string) error {
	if o.HeapProfile == "" {
		return nil
	}
	return g.saveHeap(ctx, o.HeapProfile+"."+name+".pprof")
}

func rssMB(pid int) (float64, error) {
	b, err := rss(pid)
	return mb(b), err
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
