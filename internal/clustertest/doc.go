// Package clustertest holds Switchyard's fault tests against a real NATS
// cluster: three nats-server child processes with R3 streams, and
// Switchyard replicas as child processes of the built binary, on loopback
// only. Nodes and replicas are killed with SIGKILL, a replica is cut off
// behind a TCP proxy, leaders are stepped down mid-delivery; every event
// must still reach every sink. The tests skip under -short.
package clustertest
