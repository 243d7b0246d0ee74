// Package apisinks owns the sinks created through the admin API as they
// are stored and judged: the record format of the sinks bucket and its
// sealing at rest (Record, Sealer); the Store over the bucket (get,
// create, edit over the revision read, delete with its tombstone,
// history, sealing plain records once, the name's trace, StillCurrent);
// JSON merge patch with secrets sent back as fingerprints (Patch);
// incarnation ids; judging a record by the rules a create passes
// (JudgeRecord, Refusal); the API sinks as a replica knows them and the
// effective config (Sink, Build, Effective); and the bookkeeping of
// rotated signing secrets (Rotate, ExpireSecrets). Its two components,
// Watcher (the bucket's changes, applied to a Target) and Expiry (the
// end of a rotation's grace), run between Start and Stop; pkg/endpoints
// starts them.
//
// It decides nothing and runs no sink: pkg/endpoints changes the API
// sinks through it and hands the result to the gateway.
package apisinks
