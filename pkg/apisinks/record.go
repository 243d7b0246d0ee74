package apisinks

import (
	"encoding/json"
	"fmt"
	"time"
)

// What a revision of a record did (Record.Op); the history shows it.
const (
	OpCreate      = "create"
	OpUpdate      = "update"
	OpDelete      = "delete"
	OpRotate      = "rotate"
	OpAutoDisable = "auto-disable"
	// OpSeal: sealed on the first start with admin.secrets_key_file.
	OpSeal = "seal"
	// OpExpireSecrets removes from the stored record the rotated-out
	// secrets whose grace ended: the bucket keeps no secret that no
	// longer signs.
	OpExpireSecrets = "expire-secrets"
)

// Record is one revision of an API sink in the sinks bucket. The
// bucket's history of a key is the sink's audit trail.
type Record struct {
	// Spec is the sink as its creator wrote it and later patches changed
	// it (secrets included, defaults not applied: a later default applies
	// to it too). Empty when Sealed holds it.
	Spec json.RawMessage `json:"spec,omitempty"`
	// Sealed is Spec sealed with admin.secrets_key_file.
	Sealed []byte `json:"sealed,omitempty"`
	// Expiring maps the fingerprint of a signing secret replaced by a
	// rotation to the moment it stops signing.
	Expiring map[string]time.Time `json:"expiring_secrets,omitempty"`
	// Op is what this revision did: one of the Op constants.
	Op        string    `json:"op"`
	Actor     string    `json:"actor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
	CreatedAt time.Time `json:"created_at"`
	// Incarnation is this sink's id apart from its name, drawn at create
	// and kept by every later revision (see incarnation.go). Records
	// written before it existed have none: Incarnation() derives one.
	IncarnationID string `json:"incarnation,omitempty"`
	// plain: read from the bucket unsealed (a key, when set, refuses it).
	plain bool
}

// Plain says the record was read from the bucket unsealed.
func (r Record) Plain() bool { return r.plain }

// Encode is the bucket's form of rec: its spec sealed when s is set.
func (s *Sealer) Encode(name string, rec Record) ([]byte, error) {
	if s != nil {
		rec.Sealed, rec.Spec = s.Seal(name, rec.Spec), nil
	}
	return json.Marshal(rec)
}

// Decode reads a revision and unseals its spec.
func (s *Sealer) Decode(name string, data []byte) (Record, error) {
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("sink %s: record: %w", name, err)
	}
	if len(rec.Sealed) > 0 {
		plain, err := s.Open(name, rec.Sealed)
		if err != nil {
			return rec, fmt.Errorf("sink %s: %w", name, err)
		}
		rec.Spec, rec.Sealed = plain, nil
	} else {
		rec.plain = true
	}
	return rec, nil
}
