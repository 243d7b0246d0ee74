package apisinks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// A sink's incarnation tells it from every other sink that had or will
// have its name. The name stays the consumer's name (renaming a consumer
// would lose its position), so the incarnation is what says whose a
// consumer, a dead letter or an attempt is: a sink deleted and created
// again under the same name is another incarnation, and nothing of the
// first may reach the second's endpoint, or the reverse.
//
// API sinks draw theirs at create ("api-" and 24 random hex digits) and
// keep it through every update; a file sink's is derived from its name
// ("file-" and a hash), so it stays the same across restarts and reloads
// of the same file and never equals an API sink's.

// NewIncarnation draws an API sink's incarnation.
func NewIncarnation() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "api-" + hex.EncodeToString(b[:])
}

// FileIncarnation is the incarnation of the file sink called name.
func FileIncarnation(name string) string {
	sum := sha256.Sum256([]byte("file\x00" + name))
	return "file-" + hex.EncodeToString(sum[:12])
}

// Incarnation is the record's incarnation. A record written before
// incarnations existed has none stored: its id is derived from the name
// and the creation time, which every revision and every replica share,
// so it is stable, and a later create of the name (another creation
// time, and a stored id) differs from it.
func (r Record) Incarnation(name string) string {
	if r.IncarnationID != "" {
		return r.IncarnationID
	}
	sum := sha256.Sum256([]byte("api\x00" + name + "\x00" + r.CreatedAt.UTC().Format(time.RFC3339Nano)))
	return "api-" + hex.EncodeToString(sum[:12])
}
