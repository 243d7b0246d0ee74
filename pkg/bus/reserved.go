package bus

import "github.com/switchyard-dev/switchyard/pkg/subject"

// Reserved lists the subjects no sink may publish on over this connection:
// NATS's own and those of Switchyard's streams, buckets and notices as
// this bus's config names them.
func (b *Bus) Reserved() []string { return subject.Reserved(b.cfg.Stream.Subjects) }
