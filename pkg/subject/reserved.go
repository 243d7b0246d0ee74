package subject

import (
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// InternalPrefix is the namespace of Switchyard's own subjects besides its
// events streams' and dead letters': redrives, the attempt log, the sinks'
// state notices. Every such subject starts with it (the packages that
// name one check it in their tests), so that Reserved covers them all,
// today's and tomorrow's.
const InternalPrefix = "switchyard."

// Internal is the filter of every subject in Switchyard's namespace.
func Internal() string { return InternalPrefix + ">" }

// system are the subjects NATS itself serves on a connection: the
// JetStream API (and its acks and flow control), KV buckets, object
// stores, the system account, and the replies to requests in flight.
// Every subject whose first token starts with $ is NATS's, these and the
// ones named later ($JSC, $NRG, $MQTT, …) alike (see ReservedBy).
var system = []string{"$JS.>", "$KV.>", "$O.>", "$SYS.>", "_INBOX.>"}

// System lists NATS's own subjects (see ReservedBy for the rest of $…),
// for a connection that may be the gateway's or another's.
func System() []string { return append([]string{}, system...) }

// Reserved lists the subjects a sink may never publish on, on the
// gateway's own NATS: NATS's own (system), the subjects of the events
// stream (streamSubjects, the config's stream.subjects; nil: the
// defaults), dead letters, redrives and Switchyard's namespace. The KV
// buckets (SWITCHYARD_STATE, SWITCHYARD_SINKS) live under $KV.>.
func Reserved(streamSubjects []string) []string {
	if streamSubjects == nil {
		streamSubjects = StreamDefaults()
	}
	out := append([]string{}, system...)
	out = append(out, streamSubjects...)
	return append(out, DeadLetters(), Redrives(), Internal())
}

// ReservedBy returns the reserved subject (of the list Reserved returns)
// that subj overlaps, or "" when it overlaps none. subj may end in a ">"
// wildcard; the first entry it overlaps is named.
func ReservedBy(subj string, reserved []string) string {
	first, _, _ := strings.Cut(subj, ".")
	if strings.HasPrefix(first, "$") {
		// NATS reserves the $ prefix: whatever follows, it is the server's.
		for _, r := range reserved {
			if server.SubjectsCollide(subj, r) {
				return r
			}
		}
		return first + ".>"
	}
	for _, r := range reserved {
		if server.SubjectsCollide(subj, r) {
			return r
		}
	}
	return ""
}
