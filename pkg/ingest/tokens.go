package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// token is one publish API token, known by its SHA-256 only.
type token struct {
	name    string
	tenant  string
	sum     [sha256.Size]byte
	limit   *limiter // nil: no rate limit
	metrics *labelMetrics
}

// tokenSet finds a token by the hash of what the request presented: the
// map lookup works on a hash (an attacker learns nothing from its timing
// about any token), and the final comparison is constant-time. It is
// read-only once built.
type tokenSet map[[sha256.Size]byte]*token

func newTokenSet(tokens []config.IngestToken, m *Metrics) (tokenSet, error) {
	set := make(tokenSet, len(tokens))
	for i, t := range tokens {
		name := t.Name
		if name == "" {
			name = "tokens[" + strconv.Itoa(i) + "]"
		}
		tk := &token{name: name, tenant: t.Tenant, sum: sha256.Sum256([]byte(t.Token)), metrics: m.labels(kindToken, name)}
		if t.RateLimit != "" {
			perSec, err := config.ParseRate(t.RateLimit)
			if err != nil {
				return nil, fmt.Errorf("ingest: %s: rate_limit: %w", name, err)
			}
			tk.limit = newLimiter(perSec)
		}
		set[tk.sum] = tk
	}
	return set, nil
}

// authenticate returns the token a request's Authorization header names,
// or nil.
func (s tokenSet) authenticate(r *http.Request) *token {
	auth := r.Header.Get("Authorization")
	presented, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || presented == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(presented))
	t := s[sum]
	if t == nil || subtle.ConstantTimeCompare(t.sum[:], sum[:]) != 1 {
		return nil
	}
	return t
}
