package apisinks

import (
	"errors"
	"sort"

	"github.com/switchyard-dev/switchyard/pkg/config"
)

// Sink is an API sink as a replica knows it: its latest record and the
// sink it runs as, or why it does not.
type Sink struct {
	Rec    Record // Spec unsealed
	Rev    uint64
	Config config.Sink // as it runs: validated, expired secrets dropped
	// Err says why the sink does not run: its name is taken by the config
	// file (ErrNameInFile), its record is refused (*Refusal) or unreadable,
	// or it could not start.
	Err error
}

// ErrNameInFile marks an API sink whose name a config-file sink took.
var ErrNameInFile = errors.New("a sink of the same name is defined in the config file, which wins")

// Build judges a stored sink against the file config by the rules a
// create passes (JudgeRecord). keyed: a secrets key is set.
func Build(kinds Kinds, keyed bool, name string, rec Record, rev uint64, file *config.Config) *Sink {
	a := &Sink{Rec: rec, Rev: rev}
	for _, s := range file.Sinks {
		if s.Name == name {
			a.Err = ErrNameInFile
			return a
		}
	}
	if a.Config, a.Err = JudgeRecord(kinds, keyed, rec, file); a.Err == nil {
		a.Config.Incarnation = rec.Incarnation(name)
	}
	return a
}

// FromEntry is Build of a revision read from the bucket; an unreadable
// one does not run.
func FromEntry(kinds Kinds, keyed bool, e Entry, file *config.Config) *Sink {
	if e.Err != nil {
		return &Sink{Rev: e.Rev, Err: e.Err}
	}
	return Build(kinds, keyed, e.Name, e.Rec, e.Rev, file)
}

// Rebuild judges every API sink again against a new file config.
func Rebuild(kinds Kinds, keyed bool, api map[string]*Sink, file *config.Config) map[string]*Sink {
	out := make(map[string]*Sink, len(api))
	for name, a := range api {
		if a.Err != nil && len(a.Rec.Spec) == 0 {
			out[name] = a // unreadable: nothing to judge again
			continue
		}
		out[name] = Build(kinds, keyed, name, a.Rec, a.Rev, file)
	}
	return out
}

// Effective is the config a gateway runs: the file's sinks, then the API
// sinks that may run, by name.
func Effective(file *config.Config, api map[string]*Sink) *config.Config {
	next := *file
	next.Sinks = make([]config.Sink, 0, len(file.Sinks)+len(api))
	for _, s := range file.Sinks {
		s.Incarnation = FileIncarnation(s.Name)
		next.Sinks = append(next.Sinks, s)
	}
	names := make([]string, 0, len(api))
	for name, a := range api {
		if a.Err == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		next.Sinks = append(next.Sinks, api[name].Config)
	}
	return &next
}

// PendingOf is what Expiry needs of the API sinks.
func PendingOf(api map[string]*Sink) map[string]Pending {
	out := make(map[string]Pending, len(api))
	for name, a := range api {
		out[name] = Pending{Rev: a.Rev, Expiring: a.Rec.Expiring}
	}
	return out
}
