package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageRoute is one page of the console: its pattern and what serves it.
// Handler serves every page behind a console session (auth).
type pageRoute struct {
	pattern string
	serve   func(s *server, w http.ResponseWriter, r *http.Request)
}

// pageRoutes are the console's pages, each added by the file that serves
// it (in its init), so a page is its file and its template.
var pageRoutes []pageRoute

// addPage adds a page served at pattern; serve is a method expression
// such as (*server).logsPage.
func addPage(pattern string, serve func(*server, http.ResponseWriter, *http.Request)) {
	pageRoutes = append(pageRoutes, pageRoute{pattern: pattern, serve: serve})
}

// timeParam reads a time from a query parameter: RFC 3339, or a
// datetime-local input's value taken as UTC.
func timeParam(q url.Values, key string) (time.Time, error) {
	v := strings.TrimSpace(q.Get(key))
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New(key + ": " + strconv.Quote(v) + " is not a time (use 2006-01-02T15:04, UTC)")
}
