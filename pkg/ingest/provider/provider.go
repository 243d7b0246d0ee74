// Package provider is the registry of ingest providers, the webhook senders
// whose signatures POST /ingest/<source> checks (a source's `verify:`).
// Each provider is one Spec registered from a file of its own (the built-in
// ones in pkg/ingest/providers): pkg/config validates a source with it,
// pkg/ingest verifies and identifies the source's webhooks with it, and
// pkg/schema writes the README's provider table and the JSON Schema's list
// of providers from it. It sits below those three and imports none of them.
package provider

import (
	"fmt"
	"net/http"
	"time"
)

// Tolerance is how far a signed timestamp (Stripe, Standard Webhooks) may
// be from now.
const Tolerance = 5 * time.Minute

// Reasons a webhook's signature is refused: the ingest metric's labels.
const (
	ReasonMissing   = "missing_signature"
	ReasonMismatch  = "bad_signature"
	ReasonTimestamp = "stale_timestamp"
)

// Source is what a provider reads of a configured source: config.Source
// without the fields every source shares.
type Source struct {
	Name string
	// Secrets are tried in turn, so a secret can be rotated.
	Secrets []string
	// Header, Encoding, Prefix, IDHeader and TypeHeader are options only a
	// provider whose Spec.Options is set may be given.
	Header, Encoding, Prefix, IDHeader, TypeHeader string
}

// Refusal is why a signature was refused: Reason (one of the Reason
// constants) is a metric label, Detail goes to the log; neither reaches the
// response.
type Refusal struct {
	Reason string
	Detail string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Detail }

// Refuse builds a Refusal with a formatted detail.
func Refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Verifier checks a request's signature against every secret of a source;
// nil means it verifies.
type Verifier func(h http.Header, body []byte, now time.Time) *Refusal

// Doc is a provider's row in the README's provider table (Markdown).
type Doc struct {
	Signature string // where the signature is and how it is made
	Type      string // where the event type comes from
	ID        string // where the event id comes from
	Kept      string // the provider headers kept on the event
}

// Spec is everything Switchyard knows about one provider.
type Spec struct {
	// Name is the value of a source's verify.
	Name string
	// Order places the provider in lists (the README, error messages):
	// lower first, ties by name.
	Order int
	Doc   Doc
	// Options says the provider reads the source's header, encoding,
	// prefix, id_header and type_header; any other provider refuses them.
	Options bool
	// Defaults fills the source's unset options after decoding. Nil: none.
	Defaults func(s *Source)
	// Validate reports every problem of a source, each on its field path
	// relative to the source ("secrets[0]", "header"; "" is the source).
	// Nil: nothing beyond what every source is checked for.
	Validate func(s Source, at func(field, format string, args ...any))
	// Verifier builds the source's signature check.
	Verifier func(s Source) (Verifier, error)
	// Identify reads the provider's own event id and type from a verified
	// request; either may be empty when the request lacks it (the caller
	// refuses it then). The type is raw: the caller makes subject tokens.
	Identify func(s Source, h http.Header, body []byte) (id, typ string)
	// Keep lists the provider headers kept on the event beyond its id and
	// type. Nil: none.
	Keep func(s Source) []string
}
