package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"
)

var funcs = template.FuncMap{
	"ago": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return time.Since(*t).Round(time.Second).String() + " ago"
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"seconds": func(s float64) string {
		switch {
		case s == 0:
			return "–"
		case s < 1:
			return fmt.Sprintf("%.0f ms", s*1000)
		default:
			return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
		}
	},
	"ms":     func(f float64) string { return fmt.Sprintf("%.0f ms", f) },
	"join":   strings.Join,
	"lower":  strings.ToLower,
	"pretty": prettyJSON,
	"rfc3339": func(t time.Time) string {
		return t.UTC().Format(time.RFC3339Nano)
	},
	"after1": func(t time.Time) string { // just past t: an until that takes in t
		return t.Add(time.Nanosecond).UTC().Format(time.RFC3339Nano)
	},
}

// prettyJSON indents any value as JSON.
func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// payload is an event body as the event page shows it.
type payload struct {
	Kind string // json, text, hex
	Text string
	Size int
}

// showPayload pretty-prints JSON, shows UTF-8 text as it is and anything
// else as a hex dump. The template escapes whichever it is.
func showPayload(data []byte) payload {
	p := payload{Size: len(data)}
	var buf bytes.Buffer
	switch {
	case len(data) == 0:
		p.Kind, p.Text = "text", ""
	case json.Valid(data) && json.Indent(&buf, data, "", "  ") == nil:
		p.Kind, p.Text = "json", buf.String()
	case utf8.Valid(data) && !strings.ContainsFunc(string(data), func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' && r != '\t' }):
		p.Kind, p.Text = "text", string(data)
	default:
		p.Kind, p.Text = "hex", hex.Dump(data)
	}
	return p
}
