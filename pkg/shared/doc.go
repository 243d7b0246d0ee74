// Package shared feeds shared sinks: a fixed set of JetStream consumers,
// whatever the number of sinks. Matchers read the events stream, match
// each event against an index of the shared sinks and hand each (event,
// sink) pair on as a record in the deliveries stream before acking the
// event; deliverers read the records, one consumer per partition, and
// offer each to its sink's dispatcher, which settles it as it settles a
// message of its own consumer. A retry waits as a message schedule and a
// record the sink cannot take now (paused, its breaker open, or full) is
// parked on the sink's own subject, so no waiting record holds a slot of
// the shared consumers. An idle shared sink costs an index entry and its
// definition: no consumer, no goroutine.
package shared
