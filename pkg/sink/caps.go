package sink

import "slices"

// Capabilities a kind may have beyond delivering. The gateway, the API and
// the console ask a kind for these, never for its name, so a new kind that
// has one gets the feature without an edit outside its package.
const (
	// CapRotateSecret: the block keeps signing secrets the gateway
	// generates for an API sink created without one and rotates on request
	// (POST /v1/sinks/{name}/secrets/rotate).
	CapRotateSecret = "rotate_secret"
	// CapEditTarget: the console edits the block's destination in a form,
	// its "url" and its "headers" (a map of names to values).
	CapEditTarget = "edit_target"
)

// SecretHolder is the capability of a kind whose block holds a list of
// signing secrets, the first signing and the others still signing while a
// rotation's grace lasts.
type SecretHolder struct {
	// Field is the list's field in the block, by its YAML/JSON name.
	Field string
	// Generate returns a new secret.
	Generate func() string
}

// HeldSecrets is the secret list of one sink definition's block, decoded
// from JSON (a stored or posted spec), for the gateway to change in place.
type HeldSecrets struct {
	block map[string]any
	field string
	gen   func() string
	// List are the block's secrets, in order.
	List []string
}

// Generate returns a new secret of the kind.
func (h *HeldSecrets) Generate() string { return h.gen() }

// Set replaces the block's secrets.
func (h *HeldSecrets) Set(list []string) {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	h.block[h.field] = out
}

// blockOf finds the kind block of a sink definition decoded from JSON: the
// value under a registered kind's name, when it is an object.
func (r *Registry) blockOf(doc map[string]any) (*kind, map[string]any) {
	for _, name := range r.Names() { // sorted: the same answer every time
		if b, ok := doc[name].(map[string]any); ok {
			return r.get(name), b
		}
	}
	return nil, nil
}

// KindOf is the kind of a sink definition decoded from JSON: the
// registered kind whose block it has; "" when none.
func (r *Registry) KindOf(doc map[string]any) string {
	if k, _ := r.blockOf(doc); k != nil {
		return k.name
	}
	return ""
}

// Secrets returns the secrets a sink definition decoded from JSON holds,
// or nil when its kind holds none (no SecretHolder) or it has no block.
func (r *Registry) Secrets(doc map[string]any) *HeldSecrets {
	k, b := r.blockOf(doc)
	if k == nil || k.secretHolder == nil {
		return nil
	}
	h := &HeldSecrets{block: b, field: k.secretHolder.Field, gen: k.secretHolder.Generate}
	list, _ := b[h.field].([]any)
	h.List = make([]string, 0, len(list))
	for _, v := range list {
		if s, ok := v.(string); ok {
			h.List = append(h.List, s)
		}
	}
	return h
}

// Capabilities lists, sorted, the capabilities of a registered kind (the
// Cap constants); nil for an unknown kind or one with none.
func (r *Registry) Capabilities(kind string) []string {
	k := r.get(kind)
	if k == nil {
		return nil
	}
	var out []string
	if k.secretHolder != nil {
		out = append(out, CapRotateSecret)
	}
	if k.editTarget {
		out = append(out, CapEditTarget)
	}
	slices.Sort(out)
	return out
}
