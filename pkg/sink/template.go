package sink

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/event"
)

// MaxAPITemplate bounds the text of a template written through the API.
// Without loops a template's work is bounded by its length, and a short
// one cannot pile up calls (a printf's width alone renders up to 1 MB).
const MaxAPITemplate = 1024

// OutputLimit is what a destination takes of a template's output: at most
// Bytes bytes and, when Chars is set, at most Chars characters.
type OutputLimit struct {
	Bytes int
	Chars int
}

// Template is a text/template over an event whose output is bounded:
// rendering stops as soon as the output passes the limit, so even an
// operator's template cannot build an unbounded string per event.
type Template struct {
	t     *template.Template
	field string
	limit OutputLimit
}

// ParseTemplate parses text as the template of field; options go to
// template.Option (say "missingkey=error").
func ParseTemplate(field, text string, limit OutputLimit, options ...string) (*Template, error) {
	t, err := template.New(field).Option(options...).Parse(text)
	if err != nil {
		return nil, err
	}
	return &Template{t: t, field: field, limit: limit}, nil
}

// CheckTemplate judges a template field for a driver's Validate. A block
// written through the API may not use the actions that loop or recurse
// (range, template, block, define): text/template cannot be interrupted,
// and such a template runs on every event. with and if are fine.
func CheckTemplate(chk *config.Check, field, text string, options ...string) {
	if text == "" {
		return
	}
	if chk.FromAPI() && len(text) > MaxAPITemplate {
		chk.At(field, "template of %d bytes; sinks created through the API take at most %d", len(text), MaxAPITemplate)
		return
	}
	t, err := template.New(field).Option(options...).Parse(text)
	if err != nil {
		chk.At(field, "bad template: %v", err)
		return
	}
	if !chk.FromAPI() {
		return
	}
	for _, tt := range t.Templates() {
		what := "define or block"
		if tt.Name() == field {
			what = loopAction(tt.Tree.Root)
		}
		if what != "" {
			chk.At(field, "%s is not allowed in templates of sinks created through the API: a template runs on every event and cannot be interrupted (with and if are fine)", what)
			return
		}
	}
}

// loopAction names the first action under n that loops or recurses, or
// is "". define and block leave templates of other names (refused by the
// caller); block also leaves a template node, found here.
func loopAction(n parse.Node) string {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if what := loopAction(c); what != "" {
				return what
			}
		}
	case *parse.RangeNode:
		return "range"
	case *parse.TemplateNode:
		return "template"
	case *parse.IfNode:
		return branchLoop(&n.BranchNode)
	case *parse.WithNode:
		return branchLoop(&n.BranchNode)
	}
	return ""
}

func branchLoop(b *parse.BranchNode) string {
	if what := loopAction(b.List); what != "" {
		return what
	}
	return loopAction(b.ElseList)
}

// ErrTemplateOutput is the error of a template whose output is longer
// than its destination takes.
var ErrTemplateOutput = errors.New("template output too long")

// Execute renders the template over e. An output longer than the limit is
// an error (Permanent in the driver's hands: the destination would refuse
// it); rendering stops there.
func (t *Template) Execute(e *event.Event) (string, error) {
	max := t.limit.Bytes
	if t.limit.Chars > 0 && (max == 0 || max > t.limit.Chars*utf8.UTFMax) {
		max = t.limit.Chars * utf8.UTFMax
	}
	w := &cappedWriter{max: max}
	if err := t.t.Execute(w, e); err != nil {
		if w.over {
			return "", t.tooLong()
		}
		return "", err
	}
	out := w.b.String()
	if (t.limit.Bytes > 0 && len(out) > t.limit.Bytes) || (t.limit.Chars > 0 && utf8.RuneCountInString(out) > t.limit.Chars) {
		return "", t.tooLong()
	}
	return out, nil
}

func (t *Template) tooLong() error {
	limit := fmt.Sprintf("%d bytes", t.limit.Bytes)
	if t.limit.Chars > 0 {
		limit = fmt.Sprintf("%d characters", t.limit.Chars)
	}
	return fmt.Errorf("%s: %w: the destination takes at most %s", t.field, ErrTemplateOutput, limit)
}

// cappedWriter keeps at most max bytes and fails the write that would
// pass them, which ends the template's execution.
type cappedWriter struct {
	b    strings.Builder
	max  int
	over bool
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.max > 0 && w.b.Len()+len(p) > w.max {
		w.over = true
		return 0, ErrTemplateOutput
	}
	return w.b.Write(p)
}
