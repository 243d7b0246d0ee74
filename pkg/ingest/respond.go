package ingest

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchyard-dev/switchyard/pkg/event"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Problem{Error: msg})
}

// writeAccepted writes {"ids":[…],"results":[…]} by hand: it is on every
// request's path, and reflection cost more than the rest of the answer.
func writeAccepted(w http.ResponseWriter, status int, ids []string, results []Result) {
	b := make([]byte, 0, 32+len(ids)*96)
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, id)
	}
	b = append(b, `],"results":[`...)
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = event.AppendJSONString(b, r.ID)
		b = append(b, `,"duplicate":`...)
		b = strconv.AppendBool(b, r.Duplicate)
		b = append(b, `,"stored":true}`...)
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
