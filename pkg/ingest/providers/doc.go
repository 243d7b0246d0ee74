// Package providers registers the ingest providers Switchyard ships, one
// file each; pkg/ingest imports it for its side effects, so whatever serves
// or validates sources has them. Adding a provider is adding a file here
// that calls provider.Register.
package providers
