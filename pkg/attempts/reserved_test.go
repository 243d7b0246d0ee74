package attempts

import (
	"testing"

	subj "github.com/switchyard-dev/switchyard/pkg/subject"
)

// The attempt log's subjects are Switchyard's: no sink may publish on them
// (subject.Reserved covers the namespace they live in).
func TestSubjectsAreReserved(t *testing.T) {
	for _, s := range []string{bucketSubject("s", 0), legacySubject("s", "evt_1"), subjectPrefix + ">"} {
		if subj.ReservedBy(s, subj.Reserved(nil)) == "" {
			t.Errorf("%s is not reserved", s)
		}
	}
}
