// Package schema derives, from the config types, the registry of sink kinds
// and the registry of ingest providers, the JSON Schema of Switchyard's YAML
// (`switchyard schema`, config/switchyard.schema.json) and the README's
// configuration reference and ingest provider tables. Tests compare them
// with the committed files, so none drifts from the code.
package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/ingest/provider"
	"github.com/switchyard-dev/switchyard/pkg/sink"
)

// ID is the schema's $id.
const ID = "https://github.com/switchyard-dev/switchyard/config/switchyard.schema.json"

var (
	durationType = reflect.TypeFor[config.Duration]()
	sizeType     = reflect.TypeFor[config.ByteSize]()
	sinkType     = reflect.TypeFor[config.Sink]()
)

// JSON returns the JSON Schema (draft 2020-12) of a config file whose sinks
// may be of r's kinds, indented, with a final newline.
func JSON(r *sink.Registry) ([]byte, error) {
	g := newGen(r)
	root := g.object(reflect.TypeFor[config.Config](), "", reflect.ValueOf(*config.Defaults()))
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = ID
	root["title"] = "Switchyard configuration"
	root["description"] = "Generated from the code by `switchyard schema`; do not edit."
	root["$defs"] = defs()
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// defs are the shared definitions the schemas refer to.
func defs() map[string]any {
	return map[string]any{
		"duration": map[string]any{"type": "string", "pattern": `^(\$\{.*\}|[0-9.]+(ns|us|µs|ms|s|m|h))+$`,
			"description": "Go duration syntax: 500ms, 5s, 2h30m"},
		"size": map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 1},
			map[string]any{"type": "string", "pattern": `^(\$\{.*\}|[0-9.]+ ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?)$`},
		}, "description": "bytes, or a number with a unit: 512MB, 10GiB"},
		"env": map[string]any{"type": "string", "pattern": `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`,
			"description": "${VAR} or ${VAR:-default}, replaced from the environment"},
	}
}

// Sink is the JSON Schema of one sink (the endpoints API's request body)
// and the definitions it refers to (under #/$defs/).
func Sink(r *sink.Registry) (schema, definitions map[string]any) {
	return newGen(r).sink(), defs()
}

type gen struct {
	r     *sink.Registry
	infos []sink.Info
	docs  map[string]config.FieldDoc // full path → doc
}

func newGen(r *sink.Registry) *gen {
	g := &gen{r: r, infos: r.Infos(), docs: map[string]config.FieldDoc{}}
	for _, d := range config.Docs {
		g.docs[d.Path] = withProviders(d)
	}
	for _, in := range g.infos {
		for _, d := range in.Fields {
			d.Path = "sinks[]." + in.Kind + "." + d.Path
			g.docs[d.Path] = d
		}
	}
	return g
}

// object is the schema of a struct: its yaml fields, nothing else.
func (g *gen) object(t reflect.Type, path string, def reflect.Value) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(path, name)
		var fv reflect.Value
		if def.IsValid() {
			fv = def.Field(i)
		}
		props[name] = g.field(f.Type, p, fv)
		if g.docs[p].Required {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

// field is a property's schema, with its description and default.
func (g *gen) field(t reflect.Type, path string, def reflect.Value) map[string]any {
	s := g.value(t, path, def)
	d := g.docs[path]
	if d.Doc != "" {
		s["description"] = d.Doc
	}
	if d.Default == "" && !d.Required && def.IsValid() {
		if v, ok := plain(def); ok {
			s["default"] = v
		}
	}
	if g.secret(path) {
		s["writeOnly"] = true
	}
	if path == verifyPath {
		s["enum"] = provider.Default.Names(false)
	}
	return s
}

// verifyPath is the field that names a source's provider.
const verifyPath = "sources[].verify"

// withProviders is d, documented from the provider registry when it is the
// field that names a provider.
func withProviders(d config.FieldDoc) config.FieldDoc {
	if d.Path == verifyPath && d.Doc == "" {
		d.Doc = provider.OneOf(provider.Default.Names(false), "`")
	}
	return d
}

func (g *gen) value(t reflect.Type, path string, def reflect.Value) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		if def.IsValid() {
			if def.IsNil() {
				def = reflect.Value{}
			} else {
				def = def.Elem()
			}
		}
	}
	switch {
	case t == durationType:
		return map[string]any{"$ref": "#/$defs/duration"}
	case t == sizeType:
		return map[string]any{"$ref": "#/$defs/size"}
	case t == sinkType:
		return g.sink()
	}
	env := map[string]any{"$ref": "#/$defs/env"}
	switch t.Kind() {
	case reflect.Struct:
		return g.object(t, path, def)
	case reflect.Slice:
		item := reflect.Value{}
		if def.IsValid() && def.Len() > 0 {
			item = def.Index(0)
		}
		return map[string]any{"type": "array", "items": g.value(t.Elem(), path+"[]", item)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.value(t.Elem(), path+".*", reflect.Value{})}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"anyOf": []any{map[string]any{"type": "boolean"}, env}}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"anyOf": []any{map[string]any{"type": "integer"}, env}}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"anyOf": []any{map[string]any{"type": "number"}, env}}
	}
	panic("schema: no JSON Schema for " + t.String() + " at " + path)
}

// sink is a sink's schema: the common fields, one property per kind, and
// exactly one kind present.
func (g *gen) sink() map[string]any {
	s := g.object(sinkType, "sinks[]", reflect.ValueOf(config.SinkDefaults(nil)))
	props := s["properties"].(map[string]any)
	var oneOf []any
	for _, in := range g.infos {
		k := g.object(in.ConfigType, "sinks[]."+in.Kind, reflect.ValueOf(in.Defaults).Elem())
		k["description"] = in.Summary
		props[in.Kind] = k
		oneOf = append(oneOf, map[string]any{"required": []string{in.Kind}})
	}
	s["oneOf"] = oneOf
	return s
}

func (g *gen) secret(path string) bool {
	for _, in := range g.infos {
		pre := "sinks[]." + in.Kind + "."
		for _, f := range append(append([]string{}, in.Secrets...), in.SecretURLs...) {
			if path == pre+f {
				return true
			}
		}
	}
	return path == "admin.token" || path == "ingest.tokens[].token" || path == "sources[].secrets"
}

// plain is a default as a JSON value; ok is false for zero values, which
// are not worth stating.
func plain(v reflect.Value) (any, bool) {
	if !v.IsValid() || v.IsZero() {
		return nil, false
	}
	switch v.Type() {
	case durationType:
		return shortDuration(v.Interface().(config.Duration).D), true
	case sizeType:
		return v.Interface().(config.ByteSize).String(), true
	}
	switch v.Kind() {
	case reflect.Pointer:
		return plain(v.Elem())
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i], _ = plain(v.Index(i))
		}
		return out, true
	case reflect.String:
		return v.String(), true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int64, reflect.Int32:
		return v.Int(), true
	case reflect.Float64, reflect.Float32:
		return v.Float(), true
	}
	return nil, false
}

// shortDuration writes 168h for 168h0m0s, 2m for 2m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// Table returns the README's configuration reference table: one row per
// documented field, its default taken from the code.
func Table(r *sink.Registry) string {
	g := newGen(r)
	var b strings.Builder
	b.WriteString("| field | default | meaning |\n|---|---|---|\n")
	row := func(d config.FieldDoc, path string, def reflect.Value, ok bool) {
		name := "`" + path + "`"
		for _, a := range d.Also {
			name += " / `" + a + "`"
		}
		cell := d.Default
		switch {
		case d.Required:
			cell = "required"
		case cell == "" && path == "sinks[].breaker.enabled":
			cell = g.breakerDefault()
		case cell == "" && path == "sinks[].batch.max_events":
			cell = g.batchDefault()
		case cell == "" && ok:
			cell = literal(def)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, cell, d.Doc)
	}
	defs := reflect.ValueOf(*config.Defaults())
	sinkDefs := reflect.ValueOf(config.SinkDefaults(nil))
	for _, d := range config.Docs {
		d = withProviders(d)
		v, ok := lookup(defs, d.Path)
		if rest, isSink := strings.CutPrefix(d.Path, "sinks[]."); isSink {
			v, ok = lookup(sinkDefs, rest)
		}
		row(d, d.Path, v, ok)
	}
	var kinds []string
	for _, in := range g.infos {
		kinds = append(kinds, "`"+in.Kind+"`")
		for _, d := range in.Fields {
			v, ok := lookup(reflect.ValueOf(in.Defaults).Elem(), d.Path)
			for i := range d.Also {
				d.Also[i] = strings.TrimPrefix(d.Also[i], "sinks[]."+in.Kind+".")
			}
			row(d, "sinks[]."+in.Kind+"."+d.Path, v, ok)
		}
	}
	fmt.Fprintf(&b, "| exactly one of %s | | a sink's destination |\n", strings.Join(kinds, ", "))
	return b.String()
}

func (g *gen) breakerDefault() string {
	var on []string
	for _, in := range g.infos {
		if in.SinkDefaults.Breaker.On() {
			on = append(on, in.Kind+"s")
		}
	}
	if len(on) == 0 {
		return "`false`"
	}
	return "`true` for " + strings.Join(on, ", ") + ", else `false`"
}

func (g *gen) batchDefault() string {
	var parts []string
	for _, in := range g.infos {
		parts = append(parts, in.Kind+" "+strconv.Itoa(in.MaxBatch))
	}
	return "the driver's limit (" + strings.Join(parts, ", ") + ")"
}

// lookup follows a dotted path of yaml names into a struct value.
func lookup(v reflect.Value, path string) (reflect.Value, bool) {
	for _, name := range strings.Split(path, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, false
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			if n, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); n == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// literal writes a default as the README shows it: `15s`, `""`, `[]`.
func literal(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "`\"\"`"
		}
		v = v.Elem()
	}
	switch v.Type() {
	case durationType:
		return "`" + shortDuration(v.Interface().(config.Duration).D) + "`"
	case sizeType:
		return "`" + v.Interface().(config.ByteSize).String() + "`"
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return "`\"\"`"
		}
		return "`" + v.String() + "`"
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = strings.Trim(literal(v.Index(i)), "`")
			if v.Index(i).Kind() == reflect.String {
				parts[i] = strconv.Quote(v.Index(i).String())
			}
		}
		return "`[" + strings.Join(parts, ", ") + "]`"
	case reflect.Map:
		return "`{}`"
	case reflect.Struct:
		return ""
	}
	return "`" + fmt.Sprint(v.Interface()) + "`"
}

// Fields lists every leaf field path of the config and of r's kinds, for
// the test that each is documented.
func Fields(r *sink.Registry) []string {
	var out []string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && t.Elem() != durationType && t.Elem() != sizeType {
			t, path = t.Elem(), path+"[]" // sinks[], ingest.tokens[], sources[]
		}
		if t.Kind() != reflect.Struct || t == durationType || t == sizeType {
			out = append(out, path)
			return
		}
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				walk(t.Field(i).Type, join(path, name))
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	for _, in := range r.Infos() {
		walk(in.ConfigType, "sinks[]."+in.Kind)
	}
	sort.Strings(out)
	return out
}

// The README's generated table sits between these lines.
const (
	TableBegin = "<!-- config reference: generated by `go run ./cmd/switchyard schema --readme`, checked by pkg/schema's tests -->\n"
	TableEnd   = "<!-- end of config reference -->\n"
)

// TableIn returns the generated section of a README and where it is.
func TableIn(readme string) (table string, start, end int, err error) {
	return generatedIn(readme, "config reference", TableBegin, TableEnd)
}

// generatedIn returns the text of readme between the lines begin and end,
// a generated section called what, and where it is.
func generatedIn(readme, what, begin, end string) (text string, start, stop int, err error) {
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		return "", 0, 0, fmt.Errorf("no generated %s between %q and %q", what, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	start = i + len(begin)
	return readme[start:j], start, j, nil
}

// WithTable returns the README with its generated sections (the config
// reference and the ingest provider table) replaced.
func WithTable(readme string, r *sink.Registry) (string, error) {
	_, start, end, err := TableIn(readme)
	if err != nil {
		return "", err
	}
	readme = readme[:start] + Table(r) + readme[end:]
	_, start, end, err = ProviderTableIn(readme)
	if err != nil {
		return "", err
	}
	return readme[:start] + ProviderTable(provider.Default) + readme[end:], nil
}
