package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/attempts"
	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/deadletter"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

// Client calls a running gateway's admin API; the CLI's operator commands
// are built on it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	Token   string
	HTTP    *http.Client
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := strings.TrimSuffix(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if method != http.MethodGet {
		// The API refuses state changes sent as text/plain or a form (a
		// browser's cross-site kinds); JSON is what it takes.
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s: %w (is `switchyard run` up, and --admin right?)", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error  string
			Errors config.FieldErrors
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		for _, fe := range e.Errors {
			e.Error += "\n  " + fe.Field + ": " + fe.Message
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, e.Error)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Sinks lists the sinks with their state.
func (c *Client) Sinks(ctx context.Context) ([]gatewayapi.SinkStatus, error) {
	var out []gatewayapi.SinkStatus
	return out, c.do(ctx, "GET", "/v1/sinks", nil, nil, &out)
}

// Pause pauses a sink.
func (c *Client) Pause(ctx context.Context, sink, reason string) error {
	return c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(sink)+"/pause", nil, map[string]string{"reason": reason}, nil)
}

// Resume resumes a sink.
func (c *Client) Resume(ctx context.Context, sink string) error {
	return c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(sink)+"/resume", nil, nil, nil)
}

// encode renders an API query string from its text, time and number
// parameters, leaving out empty strings and zero times and numbers.
func encode(strs map[string]string, times map[string]time.Time, nums map[string]int) url.Values {
	q := url.Values{}
	for k, v := range strs {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, t := range times {
		if !t.IsZero() {
			q.Set(k, t.UTC().Format(time.RFC3339))
		}
	}
	for k, n := range nums {
		if n > 0 {
			q.Set(k, fmt.Sprint(n))
		}
	}
	return q
}

// FilterQuery renders a dead-letter filter as the API's query string.
func FilterQuery(f deadletter.Filter) url.Values {
	return encode(map[string]string{"type": f.Type, "tenant": f.Tenant, "reason": f.Reason},
		map[string]time.Time{"since": f.Since, "until": f.Until},
		map[string]int{"offset": f.Offset, "limit": f.Limit})
}

// AttemptQuery renders an attempt-log query as the API's query string.
func AttemptQuery(a attempts.Query) url.Values {
	return encode(map[string]string{"sink": a.Sink, "event_id": a.EventID, "type": a.Type, "outcome": a.Outcome},
		map[string]time.Time{"since": a.Since, "until": a.Until},
		map[string]int{"status": a.Status, "limit": a.Limit})
}

// DeadLetters lists a sink's dead letters.
func (c *Client) DeadLetters(ctx context.Context, sink string, f deadletter.Filter) ([]deadletter.Record, error) {
	var out []deadletter.Record
	return out, c.do(ctx, "GET", "/v1/sinks/"+url.PathEscape(sink)+"/dead-letters", FilterQuery(f), nil, &out)
}

// Redrive re-delivers a sink's selected dead letters to it.
func (c *Client) Redrive(ctx context.Context, sink string, f deadletter.Filter) (int, error) {
	var out map[string]int
	err := c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(sink)+"/dead-letters/redrive", FilterQuery(f), nil, &out)
	return out["redriven"], err
}

// Purge deletes a sink's selected dead letters.
func (c *Client) Purge(ctx context.Context, sink string, f deadletter.Filter) (int, error) {
	var out map[string]int
	err := c.do(ctx, "DELETE", "/v1/sinks/"+url.PathEscape(sink)+"/dead-letters", FilterQuery(f), nil, &out)
	return out["deleted"], err
}

// Attempts queries the attempt log.
func (c *Client) Attempts(ctx context.Context, q attempts.Query) ([]attempts.Record, error) {
	var out []attempts.Record
	return out, c.do(ctx, "GET", "/v1/attempts", AttemptQuery(q), nil, &out)
}

// Event reads an event as the stream holds it, with every attempt to
// deliver it.
func (c *Client) Event(ctx context.Context, id string) (*gatewayapi.EventView, error) {
	var out gatewayapi.EventView
	return &out, c.do(ctx, "GET", "/v1/events/"+url.PathEscape(id), nil, nil, &out)
}

// StartReplay starts a replay of a time range to one sink.
func (c *Client) StartReplay(ctx context.Context, sink string, req gatewayapi.ReplayRequest) (gatewayapi.ReplayStatus, error) {
	var out gatewayapi.ReplayStatus
	return out, c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(sink)+"/replay", nil, req, &out)
}

// Replays lists the running replays and the recently finished ones.
func (c *Client) Replays(ctx context.Context) ([]gatewayapi.ReplayStatus, error) {
	var out []gatewayapi.ReplayStatus
	return out, c.do(ctx, "GET", "/v1/replays", nil, nil, &out)
}

// Replay reads a replay's progress.
func (c *Client) Replay(ctx context.Context, id string) (gatewayapi.ReplayStatus, error) {
	var out gatewayapi.ReplayStatus
	return out, c.do(ctx, "GET", "/v1/replays/"+url.PathEscape(id), nil, nil, &out)
}

// CancelReplay cancels a replay.
func (c *Client) CancelReplay(ctx context.Context, id string) (gatewayapi.ReplayStatus, error) {
	var out gatewayapi.ReplayStatus
	return out, c.do(ctx, "DELETE", "/v1/replays/"+url.PathEscape(id), nil, nil, &out)
}

// RunningConfig fetches the config in force, redacted.
func (c *Client) RunningConfig(ctx context.Context) (*config.Config, error) {
	var out config.Config
	return &out, c.do(ctx, "GET", "/v1/config", nil, nil, &out)
}

// CreateSink creates a sink from its JSON definition; the answer holds the
// generated secret, if any, under "secret" (shown this once).
func (c *Client) CreateSink(ctx context.Context, def json.RawMessage) (gatewayapi.SinkView, error) {
	var out gatewayapi.SinkView
	return out, c.do(ctx, "POST", "/v1/sinks", nil, def, &out)
}

// GetSink reads one sink with its live state.
func (c *Client) GetSink(ctx context.Context, name string) (gatewayapi.SinkView, error) {
	var out gatewayapi.SinkView
	return out, c.do(ctx, "GET", "/v1/sinks/"+url.PathEscape(name), nil, nil, &out)
}

// UpdateSink applies a JSON merge patch to an API sink.
func (c *Client) UpdateSink(ctx context.Context, name string, patch json.RawMessage) (gatewayapi.SinkView, error) {
	var out gatewayapi.SinkView
	return out, c.do(ctx, "PATCH", "/v1/sinks/"+url.PathEscape(name), nil, patch, &out)
}

// DeleteSink deletes an API sink with its consumer and dead letters.
func (c *Client) DeleteSink(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/sinks/"+url.PathEscape(name), nil, nil, nil)
}

// RotateSecret gives an API webhook sink a new secret; the old one signs
// too until grace has passed.
func (c *Client) RotateSecret(ctx context.Context, name string, grace time.Duration) (gatewayapi.RotateResult, error) {
	var out gatewayapi.RotateResult
	return out, c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(name)+"/secrets/rotate", nil, map[string]string{"grace": grace.String()}, &out)
}

// TestSink sends one test event straight to a sink's destination.
func (c *Client) TestSink(ctx context.Context, name string, req gatewayapi.TestRequest) (gatewayapi.TestResult, error) {
	var out gatewayapi.TestResult
	return out, c.do(ctx, "POST", "/v1/sinks/"+url.PathEscape(name)+"/test", nil, req, &out)
}

// SinkHistory lists an API sink's changes, oldest first.
func (c *Client) SinkHistory(ctx context.Context, name string) ([]gatewayapi.SinkRevision, error) {
	var out []gatewayapi.SinkRevision
	return out, c.do(ctx, "GET", "/v1/sinks/"+url.PathEscape(name)+"/history", nil, nil, &out)
}
