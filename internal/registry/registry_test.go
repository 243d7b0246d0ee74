package registry

import (
	"slices"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set[int]
	if _, ok := s.Get("a"); ok || len(s.Names()) != 0 {
		t.Fatal("the zero Set is not empty")
	}
	if !s.Add("b", 2) || !s.Add("a", 1) {
		t.Fatal("Add refused a free name")
	}
	if s.Add("a", 3) {
		t.Error("Add took a name already taken")
	}
	if v, ok := s.Get("a"); !ok || v != 1 {
		t.Errorf("Get(a) = %d, %v; want the first value, 1", v, ok)
	}
	if n, v := s.Names(), s.Values(); !slices.Equal(n, []string{"a", "b"}) || !slices.Equal(v, []int{1, 2}) {
		t.Errorf("Names %v, Values %v; want sorted by name", n, v)
	}
	c := s.Clone()
	c.Delete("a")
	c.Add("c", 3)
	if _, ok := s.Get("a"); !ok {
		t.Error("deleting from a clone deleted from the original")
	}
	if _, ok := s.Get("c"); ok {
		t.Error("adding to a clone added to the original")
	}
	if !slices.Equal(c.Names(), []string{"b", "c"}) {
		t.Errorf("clone Names %v, want [b c]", c.Names())
	}
}
