// Package endpoints is the endpoints API: the sinks created, changed and
// deleted at run time, beside those of the config file. It owns what a
// gateway should run (the file's sinks and the API's, judged against the
// file: Effective), every change to it (a create, a merge patch, a delete,
// a secret rotated or expired, an auto-disable, a reload of the file, a
// change another replica made, seen through the sinks bucket's watch),
// the views of the sinks (GetSink, ListSinks, Statuses), test sends and
// each API sink's history. It implements the admin API's endpoints role.
//
// It runs no sink: each change is applied through Host, which the gateway
// implements (build-swap-drain, as a reload). The records, their sealing,
// merge patch and rotation bookkeeping are pkg/apisinks'.
package endpoints
