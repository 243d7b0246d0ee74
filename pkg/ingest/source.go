package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/subject"
)

// source is one provider endpoint, POST /ingest/<name>.
type source struct {
	cfg      config.Source
	provider *provider.Spec
	settings provider.Source // what the provider reads of cfg
	verify   verifier
	scope    string
	keep     []string // provider headers kept on the event
	metrics  *labelMetrics
}

func newSource(c config.Source, m *Metrics) (*source, error) {
	v, err := newVerifier(c)
	if err != nil {
		return nil, err
	}
	if c.TypePrefix == "" {
		c.TypePrefix = c.Name
	}
	p := provider.Default.Get(c.Verify)
	s := &source{cfg: c, provider: p, settings: c.Provider(), verify: v, scope: scopeSource + c.Name + "/", metrics: m.labels(kindSource, c.Name)}
	if p.Keep != nil {
		s.keep = p.Keep(s.settings)
	}
	return s, nil
}

func (h *Handler) serveSource(w http.ResponseWriter, r *http.Request, s *source) {
	start := time.Now()
	lm := s.metrics
	body, ok := h.readCounted(w, r, lm, false)
	if !ok {
		return
	}
	if ref := s.verify(r.Header, body, h.now()); ref != nil {
		lm.requests[OutcomeUnauthorized].Inc()
		lm.refused[ref.reason].Inc()
		h.log.Warn("ingest: webhook signature refused", "source", s.cfg.Name, "reason", ref.reason, "detail", ref.detail, "remote", r.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "signature verification failed")
		return
	}
	id, typ, err := s.identify(r.Header, body)
	if err != nil {
		lm.requests[OutcomeInvalid].Inc()
		h.log.Warn("ingest: webhook without id or type", "source", s.cfg.Name, "err", err)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	hdr := nats.Header{
		event.HeaderMsgID:   {s.scope + id},
		event.HeaderIDScope: {s.scope},
		event.HeaderSource:  {s.cfg.Name},
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && validHeaderValue(ct) == nil {
		hdr[event.HeaderContentType] = []string{ct}
	}
	for _, k := range s.keep {
		if v := r.Header.Get(k); v != "" && validHeaderValue(v) == nil {
			hdr[k] = []string{v}
		}
	}
	msg := &nats.Msg{Subject: subject.TenantEvent(s.cfg.Tenant, s.cfg.TypePrefix+"."+typ), Header: hdr, Data: body}
	results, perr := h.publish(r.Context(), []*nats.Msg{msg}, []string{id})
	h.answer(w, lm, start, []string{id}, results, perr, http.StatusOK)
}

// identify reads the provider's own event id and type.
func (s *source) identify(h http.Header, body []byte) (id, typ string, err error) {
	id, raw := s.provider.Identify(s.settings, h, body)
	if id == "" {
		return "", "", errors.New("the provider's event id is missing")
	}
	if err := validHeaderValue(id); err != nil {
		return "", "", fmt.Errorf("event id: %w", err)
	}
	typ, err = TypeToken(raw)
	if err != nil {
		return "", "", err
	}
	return id, typ, nil
}

// TypeToken maps a provider's event type to subject tokens: "/" and "."
// separate tokens (Shopify's orders/create → orders.create), characters
// a subject token cannot hold become "_", empty tokens are dropped.
func TypeToken(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("the provider's event type is missing")
	}
	var b strings.Builder
	b.Grow(len(raw))
	token := false // inside a token
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '/' || c == '.':
			token = false
			continue
		case !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'):
			c = '_'
		}
		if !token && b.Len() > 0 {
			b.WriteByte('.')
		}
		token = true
		b.WriteByte(c)
	}
	if b.Len() == 0 || b.Len() > 200 {
		return "", fmt.Errorf("the provider's event type %q does not make a subject", raw)
	}
	return b.String(), nil
}
