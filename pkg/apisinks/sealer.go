package apisinks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
)

// Sealer seals the specs of API sinks at rest with AES-256-GCM, so a copy
// of the NATS store or a reader of the bucket learns no secret without
// the key file. A nil *Sealer stores specs plain.
type Sealer struct{ aead cipher.AEAD }

// NewSealer reads a key file of exactly 32 bytes; "" means no sealing.
func NewSealer(path string) (*Sealer, error) {
	if path == "" {
		return nil, nil
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin.secrets_key_file: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("admin.secrets_key_file %s: holds %d bytes, want exactly 32 random bytes (head -c32 /dev/urandom > %s)", path, len(key), path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce‖ciphertext; name is authenticated with it, so a
// sealed spec cannot be moved to another key.
func (s *Sealer) Seal(name string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(name))
}

// ErrNoKey: a sealed spec was read by a gateway without a key.
var ErrNoKey = errors.New("the sink's spec is sealed and admin.secrets_key_file is not set")

// Open unseals what Seal sealed under the same name.
func (s *Sealer) Open(name string, sealed []byte) ([]byte, error) {
	if s == nil {
		return nil, ErrNoKey
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed spec too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("open sealed spec (wrong admin.secrets_key_file?): %w", err)
	}
	return plain, nil
}
