package admin

import (
	"crypto/subtle"
	"net/http"

	"github.com/switchyard-dev/switchyard/pkg/jsonlimit"
	"github.com/switchyard-dev/switchyard/pkg/session"
)

// login answers POST /v1/session: {"token": "…"} with the admin token
// starts a new session (ending the one the browser had) and sets its
// cookie. Without a token configured there is no login (the API answers
// loopback only), so any request succeeds.
func login(token string, sessions *session.Manager, guard *authGuard) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if guard.throttled(w, r) {
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		if data, err := jsonlimit.Read(r.Body, 4096); err != nil || jsonlimit.Unmarshal(data, &body) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"token": "…"}`})
			return
		}
		if subtle.ConstantTimeCompare([]byte(body.Token), []byte(token)) != 1 {
			guard.failed(r, reasonWrongToken)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "wrong admin token"})
			return
		}
		if err := sessions.Issue(w, r); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
