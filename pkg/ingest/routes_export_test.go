package ingest

import "sort"

// Routes lists what the handler serves, from the table ServeHTTP routes
// by: the publish API and one path per source it was built with.
func (h *Handler) Routes() []string {
	routes := []string{"POST " + PathEvents}
	for name := range h.sources {
		routes = append(routes, "POST "+PathSourcePrefix+name)
	}
	sort.Strings(routes)
	return routes
}
