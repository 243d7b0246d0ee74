// Package apisinks owns the sinks created through the admin API as they
// are stored: the record format of the sinks bucket, sealing of specs at
// rest, JSON merge patch, incarnation ids, history and the bookkeeping of
// rotated signing secrets. It knows nothing of running sinks: the gateway
// judges records and applies them.
package apisinks
