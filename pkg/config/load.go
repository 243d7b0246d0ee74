package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Msg)
}

// Problems is every problem found in a file; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, expands, decodes, defaults and validates a config file, with
// the destination kinds of DefaultKinds.
func Load(path string) (*Config, error) { return Loader{}.Load(path) }

// Parse is Load for bytes already read; lookup resolves ${VAR}.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return Loader{}.Parse(file, data, lookup)
}

// Loader reads configs with a given set of destination kinds.
type Loader struct {
	// Kinds decodes the sinks' destination blocks; nil means DefaultKinds.
	Kinds Kinds
}

// Load reads, expands, decodes, defaults and validates a config file.
func (l Loader) Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return l.Parse(path, data, os.LookupEnv)
}

// Parse is Load for bytes already read; lookup resolves ${VAR}.
func (l Loader) Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	kinds := l.Kinds
	if kinds == nil {
		kinds = DefaultKinds
	}
	p := &parser{file: file, lines: map[string]int{}, kinds: kinds, dests: map[string][]destBlock{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{p.fromYAMLMessage(err.Error())}
	}
	cfg := &Config{File: file}
	if root.Kind == 0 { // empty file: all defaults
		return p.finish(cfg)
	}
	doc := root.Content[0]
	p.expandEnv(doc, lookup)
	p.walk(doc, reflect.TypeOf(Config{}), "")
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, Problems{p.fromYAMLMessage(err.Error())}
		}
		for _, msg := range te.Errors {
			p.problems = append(p.problems, p.fromYAMLMessage(msg))
		}
	}
	p.decodeDests(cfg)
	// Validate even after decode problems: fields that failed to decode
	// stay zero and take their defaults, so the rest of the file is still
	// judged and the user sees every problem in one pass.
	return p.finish(cfg)
}

func (p *parser) finish(cfg *Config) (*Config, error) {
	cfg.applyDefaults()
	cfg.validate(p)
	if len(p.problems) > 0 {
		return nil, p.sorted()
	}
	return cfg, nil
}

type parser struct {
	file     string
	lines    map[string]int // field path → line
	problems Problems
	kinds    Kinds
	dests    map[string][]destBlock // sink path → its destination blocks
	strays   []stray                // blocks of sinks with more than one
	api      string                 // the path of the sink ParseSink judges (written through the API), or ""
}

func (p *parser) sorted() Problems {
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
	return p.problems
}

func (p *parser) add(line int, field, format string, args ...any) {
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at reports a problem on a field, at the line of the field or, when the
// field is absent, of its nearest parent that is present.
func (p *parser) at(field, format string, args ...any) {
	p.add(p.lineOf(field), field, format, args...)
}

func (p *parser) lineOf(field string) int {
	for f := field; f != ""; {
		if l, ok := p.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return p.lines[""]
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// fromYAMLMessage turns yaml.v3's "line N: msg" into a Problem that also
// names the field that sits on that line.
func (p *parser) fromYAMLMessage(msg string) Problem {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return Problem{File: p.file, Line: 1, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	field := ""
	for f, l := range p.lines {
		if l == line && len(f) > len(field) {
			field = f
		}
	}
	if field == "" {
		// A value written on the lines after its key (a block mapping or
		// list where a scalar belongs) is about the nearest key above it.
		near := 0
		for f, l := range p.lines {
			if l < line && (l > near || (l == near && len(f) > len(field))) {
				field, near = f, l
			}
		}
	}
	return Problem{File: p.file, Line: line, Field: field, Msg: m[2]}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default} in scalar values. It works
// on the parsed tree, not the text, so a value can never change the shape
// of the document, and lines stay true.
func (p *parser) expandEnv(n *yaml.Node, lookup func(string) (string, bool)) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v, ok := lookup(m[1]); ok && v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			p.add(n.Line, "", "environment variable %s is not set", m[1])
			return ""
		})
		return
	}
	for _, c := range n.Content {
		p.expandEnv(c, lookup)
	}
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	sinkType        = reflect.TypeOf(Sink{})
)

// walk records the line of every field and reports unknown fields. yaml.v3
// checks unknown fields only when decoding from a reader, and we decode from
// the expanded tree, so the check is done here, against the same structs.
func (p *parser) walk(n *yaml.Node, t reflect.Type, path string) {
	if _, seen := p.lines[path]; !seen {
		p.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok && t == sinkType && p.kinds != nil {
				if kind := p.kinds.Kind(k.Value); kind != nil {
					p.dests[path] = append(p.dests[path], destBlock{kind: kind, node: v})
					ft, ok = kind.ConfigType(), true
				}
			}
			if !ok {
				known := knownNames(fields)
				if t == sinkType {
					known += "; destinations: " + strings.Join(kindNames(p.kinds), ", ")
				}
				p.add(k.Line, child, "unknown field (known: %s)", known)
				continue
			}
			p.lines[child] = k.Line
			p.walk(v, ft, child)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			p.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			child := joinPath(path, n.Content[i].Value)
			p.lines[child] = n.Content[i].Line
			p.walk(n.Content[i+1], t.Elem(), child)
		}
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func knownNames(fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
