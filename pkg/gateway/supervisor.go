package gateway

import (
	"context"
	"fmt"
)

// component is a background worker of the gateway. Start begins its work,
// which lasts until ctx ends or Stop; Stop ends it and returns once its
// goroutines have.
type component interface {
	Start(ctx context.Context) error
	Stop() error
}

// supervisor starts components in order and stops them in reverse, each
// joined before the one started before it stops, as Caddy runs its apps.
type supervisor struct {
	started []component
}

// start starts cs in order; if one fails, those already started are
// stopped and its error returned.
func (s *supervisor) start(ctx context.Context, cs ...component) error {
	for _, c := range cs {
		if err := c.Start(ctx); err != nil {
			s.stop()
			return fmt.Errorf("start %T: %w", c, err)
		}
		s.started = append(s.started, c)
	}
	return nil
}

// stop stops the started components in reverse order; the first error is
// returned, and every component is stopped whatever the others say.
func (s *supervisor) stop() error {
	var first error
	for i := len(s.started) - 1; i >= 0; i-- {
		if err := s.started[i].Stop(); err != nil && first == nil {
			first = fmt.Errorf("stop %T: %w", s.started[i], err)
		}
	}
	s.started = nil
	return first
}
