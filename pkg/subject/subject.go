// Package subject owns the NATS subject and consumer names Switchyard
// uses: where events, dead letters and redrives are published, how a sink's
// event filters become consumer filter subjects, and whether filters are
// valid or overlap (nats-server's own rules). No other package spells these
// names.
package subject

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

const (
	// EventsPrefix is where producers publish: events.<type>.
	EventsPrefix = "events."
	// DeadLetterPrefix is the dead-letter stream's subjects: dlq.<sink>.
	DeadLetterPrefix = "dlq."
	// RedrivePrefix is the redrive stream's subjects: switchyard.redrive.<sink>.
	RedrivePrefix = "switchyard.redrive."
	// redriveSuffix ends a sink's redrive consumer's durable name.
	redriveSuffix = "_redrive"
)

// Event is the subject an event of this type is published on.
func Event(typ string) string { return EventsPrefix + typ }

// Type is the event type of an events subject ("" when it is not one).
func Type(subj string) string {
	t, ok := strings.CutPrefix(subj, EventsPrefix)
	if !ok {
		return ""
	}
	return t
}

// Events is the events stream's default subjects: every event.
func Events() string { return EventsPrefix + ">" }

// Filters maps a sink's event filters to the stream subjects its consumer
// filters on.
func Filters(events []string) []string {
	out := make([]string, len(events))
	for i, f := range events {
		out[i] = Event(f)
	}
	return out
}

// DeadLetter is the subject of a sink's dead letters.
func DeadLetter(sink string) string { return DeadLetterPrefix + sink }

// DeadLetters is the dead-letter stream's subjects.
func DeadLetters() string { return DeadLetterPrefix + ">" }

// Redrive is the subject a sink's redriven dead letters are published on.
func Redrive(sink string) string { return RedrivePrefix + sink }

// Redrives is the redrive stream's subjects.
func Redrives() string { return RedrivePrefix + ">" }

// RedriveConsumer is the durable name of a sink's redrive consumer.
func RedriveConsumer(sink string) string { return sink + redriveSuffix }

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
