package apisinks

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyFile writes a key file of n bytes of b and returns its path.
func keyFile(t *testing.T, b byte, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, bytes.Repeat([]byte{b}, n), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestSealer(t *testing.T, b byte) *Sealer {
	t.Helper()
	s, err := NewSealer(keyFile(t, b, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A key file is exactly 32 bytes; no path means no sealing.
func TestNewSealerKeyFile(t *testing.T) {
	if s, err := NewSealer(""); s != nil || err != nil {
		t.Fatalf("no key file: %v %v, want no sealer and no error", s, err)
	}
	if _, err := NewSealer(keyFile(t, 1, 31)); err == nil || !strings.Contains(err.Error(), "holds 31 bytes") {
		t.Fatalf("31-byte key: %v", err)
	}
	if _, err := NewSealer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing key file is accepted")
	}
}

// A sealed spec opens only with its key and under its name, and hides
// what it seals.
func TestSealerSealOpen(t *testing.T) {
	s := newTestSealer(t, 1)
	plain := []byte(`{"webhook":{"secrets":["whsec_x"]}}`)
	sealed := s.Seal("a", plain)
	if bytes.Contains(sealed, []byte("whsec_x")) {
		t.Fatal("the sealed spec shows its secret")
	}
	got, err := s.Open("a", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open("b", sealed); err == nil {
		t.Fatal("a spec sealed for a opened as b")
	}
	if _, err := newTestSealer(t, 2).Open("a", sealed); err == nil {
		t.Fatal("a spec opened with another key")
	}
	if _, err := s.Open("a", sealed[:3]); err == nil {
		t.Fatal("a truncated spec opened")
	}
	var none *Sealer
	if _, err := none.Open("a", sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("open without a key: %v, want ErrNoKey", err)
	}
}
