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
