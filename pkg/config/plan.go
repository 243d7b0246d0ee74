package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/redact"
)

// Plan is what applying a new config to a running gateway changes.
type Plan struct {
	Added   []string            `json:"added,omitempty"`
	Removed []string            `json:"removed,omitempty"`
	Changed map[string][]string `json:"changed,omitempty"` // sink → the fields that differ
	// Restart lists top-level settings that differ and take effect only
	// after a restart (the connection, streams, admin listener, logging).
	Restart []string `json:"restart,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Added)+len(p.Removed)+len(p.Changed)+len(p.Restart) == 0
}

func (p Plan) String() string {
	if p.Empty() {
		return "no changes"
	}
	var b strings.Builder
	for _, n := range p.Added {
		fmt.Fprintf(&b, "+ sink %s (new: starts delivering events published from now on)\n", n)
	}
	for _, n := range p.Removed {
		fmt.Fprintf(&b, "- sink %s (stops; its consumer and backlog are kept unless pruned)\n", n)
	}
	names := make([]string, 0, len(p.Changed))
	for n := range p.Changed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "~ sink %s: %s\n", n, strings.Join(p.Changed[n], ", "))
	}
	for _, f := range p.Restart {
		fmt.Fprintf(&b, "! %s changed: needs a restart, a reload keeps the running value\n", f)
	}
	return b.String()
}

// Diff compares two configs. Compare redacted copies (see Redacted) when
// one side came from a running gateway's admin API.
func Diff(old, new *Config) Plan {
	p := Plan{Changed: map[string][]string{}}
	for _, f := range []struct {
		name     string
		old, new any
	}{
		{"nats", old.NATS, new.NATS}, {"stream", old.Stream, new.Stream}, {"dead_letters", old.DeadLetters, new.DeadLetters},
		{"attempts", old.Attempts, new.Attempts}, {"admin", old.Admin, new.Admin}, {"log", old.Log, new.Log},
		{"ingest", old.Ingest, new.Ingest}, {"sources", old.Sources, new.Sources},
	} {
		if !reflect.DeepEqual(f.old, f.new) {
			p.Restart = append(p.Restart, f.name)
		}
	}
	before := map[string]Sink{}
	for _, s := range old.Sinks {
		before[s.Name] = s
	}
	after := map[string]bool{}
	for _, s := range new.Sinks {
		after[s.Name] = true
		o, ok := before[s.Name]
		if !ok {
			p.Added = append(p.Added, s.Name)
			continue
		}
		fields := sinkDiff(reflect.ValueOf(o), reflect.ValueOf(s), "")
		if !sameConfig(o.Dest, s.Dest) {
			fields = append(fields, destDiff(o.Dest, s.Dest)...)
		}
		if o.Incarnation != s.Incarnation {
			// Deleted and created again under the same name: another
			// sink, whatever its definition.
			fields = append(fields, "incarnation")
		}
		if o.Confined != s.Confined {
			// api.allow's private_networks changed: the driver is opened
			// again, guarded or not.
			fields = append(fields, "api.allow: private_networks")
		}
		if len(fields) > 0 {
			p.Changed[s.Name] = fields
		}
	}
	for _, s := range old.Sinks {
		if !after[s.Name] {
			p.Removed = append(p.Removed, s.Name)
		}
	}
	if len(p.Changed) == 0 {
		p.Changed = nil
	}
	return p
}

// sameConfig reports whether two blocks are the very same decoded value:
// a sink carried over unchanged (thousands of API sinks, one of which
// changes) costs no comparison of its block.
func sameConfig(a, b Destination) bool {
	va, vb := reflect.ValueOf(a.Config), reflect.ValueOf(b.Config)
	return a.Kind == b.Kind && va.Kind() == reflect.Pointer && vb.Kind() == reflect.Pointer && va.Pointer() == vb.Pointer()
}

// sameValue is DeepEqual that takes an empty map or list for a missing
// one: a config read back from JSON has {} where the file had nothing.
func sameValue(a, b reflect.Value) bool {
	if k := a.Kind(); (k == reflect.Map || k == reflect.Slice) && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// sinkDiff names the common fields that differ.
func sinkDiff(a, b reflect.Value, prefix string) []string {
	var out []string
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !sameValue(a.Field(i), b.Field(i)) {
			out = append(out, prefix+name)
		}
	}
	return out
}

// destDiff names the differing fields of two destination blocks, one
// level in (webhook.url), or both kinds when the kind changed. Blocks are
// compared in their plain form, so a block read back from /v1/config
// compares with one read from a file.
func destDiff(a, b Destination) []string {
	if a.Kind != b.Kind {
		var out []string
		for _, k := range []string{a.Kind, b.Kind} {
			if k != "" {
				out = append(out, k)
			}
		}
		return out
	}
	am, bm := a.Map(), b.Map()
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if !reflect.DeepEqual(am[k], bm[k]) {
			out = append(out, a.Kind+"."+k)
		}
	}
	sort.Strings(out)
	return out
}

// Redacted returns a copy safe to show: the admin token, the NATS URL's
// password and query values, and every field a destination's spec marks
// secret (webhook secrets, header values, URL passwords and query values)
// are replaced by a fingerprint, so a plan can still tell that they
// changed. A webhook URL's path is shown.
func Redacted(c *Config) *Config {
	r := *c
	r.Admin.Token = fingerprint(c.Admin.Token)
	r.NATS.URL = redact.URLWith(c.NATS.URL, fingerprint)
	r.Sinks = make([]Sink, len(c.Sinks))
	for i, s := range c.Sinks {
		r.Sinks[i] = RedactedSink(s)
	}
	redactIngest(&r, c)
	return &r
}

// RedactedSink is one sink as Redacted shows it.
func RedactedSink(s Sink) Sink {
	s.Dest.Node = nil // the block as written holds the secrets
	if s.Dest.kind != nil && s.Dest.Config != nil {
		s.Dest.Config = s.Dest.kind.Redact(s.Dest.Config, fingerprint)
	}
	return s
}

// Fingerprint is what Redacted shows for a secret: a short hash, the same
// for the same secret, "" for "".
func Fingerprint(s string) string { return fingerprint(s) }

func fingerprint(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:6])
}
