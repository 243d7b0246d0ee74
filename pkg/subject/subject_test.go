package subject_test

import (
	"strings"
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/subject"
)

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{subject.Event("order.created"), "events.order.created"},
		{subject.Type("events.order.created"), "order.created"},
		{subject.Type("dlq.orders"), ""},
		{subject.Events(), "events.>"},
		{subject.DeadLetter("orders"), "dlq.orders"},
		{subject.DeadLetters(), "dlq.>"},
		{subject.Redrive("orders"), "switchyard.redrive.orders"},
		{subject.Redrives(), "switchyard.redrive.>"},
		{subject.RedriveConsumer("orders"), "orders_redrive"},
		{strings.Join(subject.Filters([]string{"order.*", ">"}), ","), "events.order.*,events.>"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestFilters(t *testing.T) {
	for _, tt := range []struct {
		filter, problem string // "" is valid
	}{
		{"order.*", ""}, {">", ""}, {"order.created", ""}, {"a.*.c.>", ""},
		{"", "empty"}, {"order. x", "white space"}, {"order..x", "empty token"}, {".order", "empty token"},
		{">.x", "last token"}, {"order.*x", "whole tokens"}, {"order>", "whole tokens"},
	} {
		err := subject.ValidFilter(tt.filter)
		if (err == nil) != (tt.problem == "") || (err != nil && !strings.Contains(err.Error(), tt.problem)) {
			t.Errorf("ValidFilter(%q) = %v, want %q", tt.filter, err, tt.problem)
		}
	}
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"order.*", "order.>", true}, {"order.*", "invoice.*", false}, {">", "x", true},
		{"order.created", "order.*", true}, {"order.*", "order.a.b", false}, {"a.*.c", "a.b.*", true},
	} {
		if got := subject.Overlap(tt.a, tt.b); got != tt.want {
			t.Errorf("Overlap(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestTenantFilters(t *testing.T) {
	for _, c := range []struct {
		tenant string
		want   []string
	}{
		{"", []string{"events.order.*"}},
		{"acme", []string{"tenants.acme.order.*"}},
		{"*", []string{"events.order.*", "tenants.*.order.*"}},
	} {
		if got := subject.TenantFilters(c.tenant, []string{"order.*"}); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("tenant %q: %v, want %v", c.tenant, got, c.want)
		}
	}
	if subject.Type("tenants.acme.order.created") != "order.created" || subject.TenantEvent("acme", "a.b") != "tenants.acme.a.b" {
		t.Fatal("tenant subjects")
	}
	for _, bad := range []string{"", "a.b", "a*", strings.Repeat("x", 65)} {
		if subject.ValidTenant(bad) == nil {
			t.Errorf("tenant %q accepted", bad)
		}
	}
}

// A name goes into a subject or key as one token: never a wildcard, never
// more tokens, and never equal to another name's token.
func TestToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"orders", "orders"}, {"ep_AbC-9", "ep_AbC-9"}, {">", "=3E"}, {"*", "=2A"},
		{"a.b", "a=2Eb"}, {"a b", "a=20b"}, {"", "="}, {"=3E", "=3D3E"}, {"é", "=C3=A9"},
	} {
		if got := subject.Token(c.in); got != c.want {
			t.Errorf("Token(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	seen := map[string]string{}
	for _, n := range []string{">", "*", "a.>", "a.b", "a=2Eb", "a", "", "=", " ", "\t", "x y", "a*", "=3E"} {
		tok := subject.Token(n)
		if prev, dup := seen[tok]; dup {
			t.Errorf("%q and %q share the token %q", prev, n, tok)
		}
		seen[tok] = n
		if strings.ContainsAny(tok, ".*> \t\r\n") || tok == "" {
			t.Errorf("Token(%q) = %q is not one plain token", n, tok)
		}
		if subject.ValidName(n) == nil && tok != n {
			t.Errorf("valid name %q changed to %q", n, tok)
		}
	}
	if subject.DeadLetter(">") != "dlq.=3E" || subject.Redrive("a.b") != "switchyard.redrive.a=2Eb" ||
		subject.RedriveConsumer("*") != "=2A_redrive" || subject.TenantEvent("a.b", "x.y") != "tenants.a=2Eb.x.y" {
		t.Fatal("a builder lets a name's wildcard or dot through")
	}
	for _, bad := range []string{"", ">", "a.b", "a b", strings.Repeat("x", 65)} {
		if subject.ValidName(bad) == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
}
