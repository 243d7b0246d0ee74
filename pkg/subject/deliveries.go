package subject

import "strconv"

// The deliveries stream carries shared delivery: one record per (event,
// shared sink) that the matchers hand on, read by a fixed set of delivery
// consumers, one per partition. A sink's records live on subjects named
// after its incarnation, so a name used again starts clean and a delete
// purges one subject of each kind.
//
//	switchyard.deliveries.due.<partition>.<incarnation>   due now; read by the partition's consumer
//	switchyard.deliveries.retry.<incarnation>.<n>         a retry waiting for its time (a message schedule)
//	switchyard.deliveries.parked.<incarnation>            held while the sink is paused or full; no consumer reads it
const (
	DeliveriesPrefix = InternalPrefix + "deliveries."
	dueInfix         = "due."
	retryInfix       = "retry."
	parkedInfix      = "parked."
	// SharedPartitions is how many delivery consumers read the due
	// records. Fixed: a record's partition is part of its subject.
	SharedPartitions = 4
)

// Deliveries is the deliveries stream's subjects.
func Deliveries() string { return DeliveriesPrefix + ">" }

// Partition is the delivery partition of a sink incarnation (FNV-1a of it).
func Partition(incarnation string) int {
	h := uint32(2166136261)
	for i := 0; i < len(incarnation); i++ {
		h ^= uint32(incarnation[i])
		h *= 16777619
	}
	return int(h % SharedPartitions)
}

// Due is the subject of an incarnation's records that are due now.
func Due(incarnation string) string {
	return DeliveriesPrefix + dueInfix + strconv.Itoa(Partition(incarnation)) + "." + Token(incarnation)
}

// DuePartition is what the delivery consumer of partition p reads.
func DuePartition(p int) string { return DeliveriesPrefix + dueInfix + strconv.Itoa(p) + ".>" }

// Retry is the subject of one retry of an incarnation waiting for its time;
// n must tell it from the incarnation's other waiting retries (a message
// schedule is replaced by the next one on its subject).
func Retry(incarnation string, n uint64) string {
	return DeliveriesPrefix + retryInfix + Token(incarnation) + "." + strconv.FormatUint(n, 10)
}

// Retries is every waiting retry of an incarnation.
func Retries(incarnation string) string {
	return DeliveriesPrefix + retryInfix + Token(incarnation) + ".>"
}

// Parked is the subject of an incarnation's parked records.
func Parked(incarnation string) string { return DeliveriesPrefix + parkedInfix + Token(incarnation) }

// AllParked is every incarnation's parked records.
func AllParked() string { return DeliveriesPrefix + parkedInfix + ">" }

// IncarnationOf reads the incarnation from a due or parked record's subject.
func IncarnationOf(subj string) string {
	for i := len(subj) - 1; i >= 0; i-- {
		if subj[i] == '.' {
			return subj[i+1:]
		}
	}
	return subj
}

// DeliverConsumer is the durable name of partition p's delivery consumer.
func DeliverConsumer(p int) string { return "switchyard_deliver_" + strconv.Itoa(p) }

// MatchConsumer is the durable name of the matchers' consumer on the
// events stream.
const MatchConsumer = "switchyard_match"
