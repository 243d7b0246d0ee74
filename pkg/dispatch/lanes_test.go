package dispatch

import "testing"

// A key's later events wait behind its head, in stream order, whatever
// order they arrive in; the head's redelivery goes straight through.
func TestLanesKeepStreamOrderPerKey(t *testing.T) {
	l := newLanes()
	steps := []struct {
		key  string
		seq  uint64
		want bool
	}{
		{"a", 1, true},  // first of a: head
		{"b", 2, true},  // another key is independent
		{"a", 5, false}, // waits behind 1
		{"a", 3, false}, // arrives later, still goes before 5
		{"a", 1, true},  // redelivery of the head (a retry)
	}
	for _, s := range steps {
		if got := l.admit(s.key, s.seq, nil); got != s.want {
			t.Fatalf("admit(%s, %d) = %v, want %v", s.key, s.seq, got, s.want)
		}
	}
	if l.finish("a", 5) != nil || len(l.byKey["a"].waiting) != 2 {
		t.Fatal("finishing an event that is not the head must change nothing")
	}
	l.finish("a", 1)
	if h := l.byKey["a"].head; h != 3 {
		t.Fatalf("after 1 the head is %d, want 3", h)
	}
	l.finish("a", 3)
	if h := l.byKey["a"].head; h != 5 {
		t.Fatalf("after 3 the head is %d, want 5", h)
	}
	l.finish("a", 5)
	if _, ok := l.byKey["a"]; ok {
		t.Fatal("an empty lane must be removed")
	}
	l.admit("a", 9, nil)
	l.admit("a", 10, nil)
	if n := len(l.drain()); n != 1 || len(l.byKey) != 0 {
		t.Fatalf("drain returned %d waiting, left %d lanes", n, len(l.byKey))
	}
}
