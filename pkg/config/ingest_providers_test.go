package config_test

// The loader validates sources against the provider registry; a binary
// gets the built-in providers from pkg/ingest (which imports them), these
// tests from here.
import _ "github.com/switchyard-dev/switchyard/pkg/ingest/providers"
