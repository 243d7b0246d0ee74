package apisinks

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/config"
	"github.com/switchyard-dev/switchyard/pkg/gatewayapi"
)

func TestNewName(t *testing.T) {
	re := regexp.MustCompile(`^ep_[0-9A-Za-z]{22}$`)
	a, b := NewName(), NewName()
	if !re.MatchString(a) || a == b {
		t.Fatalf("names %q %q", a, b)
	}
}

// Edit stores the changed spec over the revision read, stamped; a check
// that refuses, a change made meanwhile, and a plain record under a key
// store nothing.
func TestStoreEdit(t *testing.T) {
	s := newStore(t, newTestSealer(t, 1))
	ctx := t.Context()
	if _, err := s.Create(ctx, "a", Record{Spec: spec("a"), Op: "create", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Get(ctx, "a")
	disable := func(doc map[string]any, _ *Record) error { doc["disabled"] = true; return nil }
	refuse := errors.New("refused")
	if _, _, err := s.Edit(ctx, e, "update", "ann", "", disable, func([]byte) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("a refused change: %v", err)
	}
	rec, rev, err := s.Edit(ctx, e, "auto-disable", "switchyard", "failing", disable, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "a")
	if got.Rev != rev || rev == e.Rev || got.Rec.Op != "auto-disable" || got.Rec.Reason != "failing" || string(got.Rec.Spec) != string(rec.Spec) || !got.Rec.At.After(e.Rec.At) {
		t.Fatalf("stored %+v, want the edit at revision %d", got, rev)
	}
	if _, _, err := s.Edit(ctx, e, "update", "ann", "", disable, nil); !errors.Is(err, gatewayapi.ErrConflict) {
		t.Fatalf("an edit over a stale revision: %v, want a conflict", err)
	}

	plain := &Store{KV: s.KV, State: s.State, Log: s.Log}
	if _, err := plain.Create(ctx, "p", Record{Spec: spec("p"), Op: "create"}); err != nil {
		t.Fatal(err)
	}
	pe, _ := s.Get(ctx, "p")
	if _, _, err := s.Edit(ctx, pe, "update", "ann", "", disable, nil); !errors.Is(err, gatewayapi.ErrConflict) || !strings.Contains(err.Error(), ErrPlainRecord.Error()) {
		t.Fatalf("a plain record changed under a key: %v", err)
	}
	if after, _ := s.Get(ctx, "p"); after.Rev != pe.Rev {
		t.Fatal("the plain record was rewritten")
	}
}

// A patch merges, keeps a secret whose fingerprint came back, and refuses
// to change the name or the tenant.
func TestPatch(t *testing.T) {
	doc := decode(t, `{"name":"a","tenant":"t1","webhook":{"url":"http://x","secrets":["s1"]}}`).(map[string]any)
	redact := func(d map[string]any) (map[string]any, error) {
		return decode(t, `{"name":"a","tenant":"t1","webhook":{"url":"http://x","secrets":["fp1"]}}`).(map[string]any), nil
	}
	if err := Patch(doc, decode(t, `{"webhook":{"url":"http://y","secrets":["fp1","s2"]},"disabled":true}`).(map[string]any), "a", redact); err != nil {
		t.Fatal(err)
	}
	want := decode(t, `{"name":"a","tenant":"t1","disabled":true,"webhook":{"url":"http://y","secrets":["s1","s2"]}}`)
	if !reflect.DeepEqual(any(doc), want) {
		t.Fatalf("patched %v, want %v", doc, want)
	}
	err := Patch(doc, decode(t, `{"name":"b","tenant":"t2"}`).(map[string]any), "a", redact)
	var fe config.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 2 || fe[0].Field != "name" || fe[1].Field != "tenant" {
		t.Fatalf("renaming and moving tenants: %v", err)
	}
	if err := Patch(doc, decode(t, `{"name":"a","tenant":"t1"}`).(map[string]any), "a", redact); err != nil {
		t.Fatalf("sending the same name and tenant back: %v", err)
	}
}
