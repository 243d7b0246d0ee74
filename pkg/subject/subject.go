// Package subject owns the NATS subjects of Switchyard's streams and the
// names of the consumers that read them: where events, dead letters and
// redrives are published, how a sink's event filters become consumer
// filter subjects, whether filters are valid or overlap (nats-server's own
// rules), how a name becomes one subject token (Token), and which subjects
// a sink may never publish on (Reserved).
//
// Other packages spell a few subjects of their own: the attempt log
// (pkg/attempts) and the sinks' state notices (pkg/dispatch) name theirs
// under InternalPrefix, which Reserved covers; the tenant prefix is
// pkg/event's, which imports only the standard library; pkg/dispatch reads
// NATS's own $JS.ACK and $KV subjects. The bench's bare system spells its
// events' subjects itself: it shares no code with the product it measures.
package subject

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

const (
	// EventsPrefix is where producers publish unscoped events: events.<type>.
	EventsPrefix = "events."
	// TenantsPrefix is where producers publish a tenant's events:
	// tenants.<tenant>.<type>.
	TenantsPrefix = event.TenantsPrefix
	// AnyTenant, as a sink's tenant, takes unscoped events and every
	// tenant's.
	AnyTenant = "*"
	// DeadLetterPrefix is the dead-letter stream's subjects: dlq.<sink>.
	DeadLetterPrefix = "dlq."
	// RedrivePrefix is the redrive stream's subjects: switchyard.redrive.<sink>.
	RedrivePrefix = "switchyard.redrive."
	// redriveSuffix ends a sink's redrive consumer's durable name.
	redriveSuffix = "_redrive"
)

// Event is the subject an event of this type is published on.
func Event(typ string) string { return EventsPrefix + typ }

// TenantEvent is the subject a tenant's event of this type is published
// on; an empty tenant is an unscoped event.
func TenantEvent(tenant, typ string) string {
	if tenant == "" {
		return Event(typ)
	}
	return TenantsPrefix + Token(tenant) + "." + typ
}

// Type is the event type of an event subject, scoped to a tenant or not
// ("" when it is not one).
func Type(subj string) string {
	_, t, _ := event.SplitSubject(subj, EventsPrefix)
	return t
}

// Split reads an event subject into its tenant ("" when unscoped, "*"
// for a stream subject that takes every tenant) and type.
func Split(subj string) (tenant, typ string, ok bool) {
	return event.SplitSubject(subj, EventsPrefix)
}

// Events is the events stream's subjects for unscoped events.
func Events() string { return EventsPrefix + ">" }

// Tenants is the events stream's subjects for every tenant's events.
func Tenants() string { return TenantsPrefix + AnyTenant + ".>" }

// StreamDefaults is the events stream's default subjects: every event,
// scoped to a tenant or not.
func StreamDefaults() []string { return []string{Events(), Tenants()} }

// nameRE is a sink's name and a tenant's id: one subject token, and a
// valid consumer name and KV key.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidName checks a sink's name: 1 to 64 letters, digits, - and _. A
// name outside this rule names no sink, whatever route it came from.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: a sink name is 1 to 64 letters, digits, - and _", name)
	}
	return nil
}

// ValidTenant checks a tenant id: one NATS token of 1 to 64 letters,
// digits, - and _.
func ValidTenant(t string) error {
	if !nameRE.MatchString(t) {
		return fmt.Errorf("%q: a tenant is 1 to 64 letters, digits, - and _", t)
	}
	return nil
}

// Filters maps a sink's event filters to the stream subjects its consumer
// filters on, for unscoped events only.
func Filters(events []string) []string { return TenantFilters("", events) }

// TenantFilters maps a sink's tenant and event filters to its consumer's
// filter subjects, so the server does the filtering: no tenant takes
// unscoped events, a tenant takes only its own, AnyTenant takes both.
func TenantFilters(tenant string, events []string) []string {
	out := make([]string, 0, len(events))
	for _, f := range events {
		switch tenant {
		case "":
			out = append(out, Event(f))
		case AnyTenant:
			out = append(out, Event(f), TenantsPrefix+AnyTenant+"."+f)
		default:
			out = append(out, TenantsPrefix+Token(tenant)+"."+f)
		}
	}
	return out
}

// DeadLetter is the subject of a sink's dead letters.
func DeadLetter(sink string) string { return DeadLetterPrefix + Token(sink) }

// DeadLetters is the dead-letter stream's subjects.
func DeadLetters() string { return DeadLetterPrefix + ">" }

// Redrive is the subject a sink's redriven dead letters are published on.
func Redrive(sink string) string { return RedrivePrefix + Token(sink) }

// Redrives is the redrive stream's subjects.
func Redrives() string { return RedrivePrefix + ">" }

// RedriveConsumer is the durable name of a sink's redrive consumer.
func RedriveConsumer(sink string) string { return Token(sink) + redriveSuffix }

// ValidFilter checks NATS wildcard syntax ("*" a whole token, ">" only the
// last), saying what is wrong.
func ValidFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(f, " \t\r\n") {
		return fmt.Errorf("contains white space")
	}
	tokens := strings.Split(f, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("empty token (leading, trailing or double dot)")
		case t == ">" && i != len(tokens)-1:
			return fmt.Errorf("\">\" must be the last token")
		case t != "*" && t != ">" && strings.ContainsAny(t, "*>"):
			return fmt.Errorf("wildcards must be whole tokens, as in order.* or order.>")
		}
	}
	if !server.IsValidSubject(f) {
		return fmt.Errorf("not a valid NATS subject")
	}
	return nil
}

// Overlap reports whether some subject matches both filters; JetStream
// refuses a consumer whose filter subjects overlap.
func Overlap(a, b string) bool { return server.SubjectsCollide(a, b) }
