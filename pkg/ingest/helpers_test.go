package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyard-dev/switchyard/internal/testutil"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
	"github.com/switchyard-dev/switchyard/pkg/ingest"
)

// rig is an ingest handler on a real embedded JetStream, served over
// loopback HTTP.
type rig struct {
	js  *testutil.JetStream
	h   *ingest.Handler
	srv *httptest.Server
}

const (
	tokenAcme = "tok-acme-0123456789"
	tokenAny  = "tok-any-0123456789ab"
)

func defaultTokens() []config.IngestToken {
	return []config.IngestToken{
		{Name: "acme", Token: tokenAcme, Tenant: "acme"},
		{Name: "ops", Token: tokenAny},
	}
}

func newRig(t *testing.T, js *testutil.JetStream, configure func(*ingest.Options)) *rig {
	t.Helper()
	if js == nil {
		js = testutil.StartJetStream(t, nil)
	}
	testutil.OpenBus(t, js, nil) // the events stream with its default subjects
	o := ingest.Options{JS: js.JS, Stream: config.DefaultStreamName, Tokens: defaultTokens(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(&o)
	}
	h, err := ingest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &rig{js: js, h: h, srv: srv}
}

// post sends body to path with the headers; "Authorization" is set from
// token when not empty.
func (rg *rig) post(t *testing.T, path, token string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rg.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// stored returns every event in the events stream, read as a sink reads
// them (event.FromMessage).
func (rg *rig) stored(t *testing.T) []*event.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := rg.js.JS.Stream(ctx, config.DefaultStreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*event.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		out = append(out, fromRaw(t, m))
	}
	return out
}

func fromRaw(t *testing.T, m *jetstream.RawStreamMsg) *event.Event {
	t.Helper()
	e, err := event.FromMessage(event.Message{Subject: m.Subject, Header: m.Header, Data: m.Data, Stream: config.DefaultStreamName, Sequence: m.Sequence, Published: m.Time}, "events.")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}
