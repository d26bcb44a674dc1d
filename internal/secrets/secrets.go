// Package secrets encrypts the secrets nextsecure stores (provider tokens,
// TOTP secrets) under AUTH_SECRET.
//
// A Keyring holds one or more AUTH_SECRET values: the first seals, every
// one opens, so a secret is rotated by putting the new value in front and
// keeping the old one until "nextsecure secrets reencrypt" has rewritten
// what is stored. Each value and purpose label gives its own AES-256-GCM key
// through HKDF-SHA-256, and the caller binds a sealed value to its row with
// associated data, so a value copied to another row, column or purpose does
// not open.
//
// A sealed value is text, for a text column:
//
//	enc:v1:<base64url(key id (4 bytes) || nonce (12 bytes) || ciphertext || tag)>
//
// The key id is derived from the AUTH_SECRET value (it reveals nothing of
// it) and tells Open which value sealed it.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Prefix starts every sealed value; the version in it lets the format
// change later without guessing.
const Prefix = "enc:v1:"

// MinSecretLen is the least number of bytes of each AUTH_SECRET value.
const MinSecretLen = 32

const (
	idLen    = 4
	nonceLen = 12
	tagLen   = 16
)

var (
	// ErrNotSet means Parse was given no secret at all.
	ErrNotSet = errors.New("secrets: no secret given")
	// ErrMalformed means a value is not a sealed value of this format.
	ErrMalformed = errors.New("secrets: not a sealed value")
	// ErrUnknownKey means a value was sealed under an AUTH_SECRET value
	// that the keyring does not hold.
	ErrUnknownKey = errors.New("secrets: sealed under a key not in AUTH_SECRET")
	// ErrAuth means a value does not open: it was altered, or it was
	// sealed for another purpose or other associated data.
	ErrAuth = errors.New("secrets: sealed value does not authenticate")
)

var b64 = base64.RawURLEncoding

// Keyring seals under its first key and opens under any of them. Make one
// with Parse; the zero Keyring holds no key.
// It is safe for concurrent use.
type Keyring struct {
	keys []*key // keys[0] seals
}

type key struct {
	id     [idLen]byte
	secret []byte
	aeads  sync.Map // purpose -> cipher.AEAD
}

// Parse reads an AUTH_SECRET value: one or more comma-separated secrets,
// each at least MinSecretLen bytes (surrounding spaces are ignored). The
// first seals; all open. A value repeated is kept once. Its errors are
// one line and never repeat the secret.
func Parse(authSecret string) (*Keyring, error) {
	if strings.TrimSpace(authSecret) == "" {
		return nil, ErrNotSet
	}
	parts := strings.Split(authSecret, ",")
	k := &Keyring{}
	seen := map[[idLen]byte]bool{}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) < MinSecretLen {
			if len(parts) == 1 {
				return nil, fmt.Errorf("%d bytes, want at least %d", len(p), MinSecretLen)
			}
			return nil, fmt.Errorf("value %d of %d: %d bytes, want at least %d", i+1, len(parts), len(p), MinSecretLen)
		}
		kk := &key{secret: []byte(p)}
		id, err := hkdf.Key(sha256.New, kk.secret, nil, "nextsecure key id", idLen)
		if err != nil {
			return nil, err
		}
		copy(kk.id[:], id)
		if seen[kk.id] {
			continue
		}
		seen[kk.id] = true
		k.keys = append(k.keys, kk)
	}
	return k, nil
}

// Generate returns a new AUTH_SECRET value: 32 random bytes, base64url.
func Generate() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24)
	return b64.EncodeToString(b)
}

// String describes the keyring without its secrets, so that logging a
// configuration never leaks them.
func (k *Keyring) String() string {
	return fmt.Sprintf("secrets.Keyring(%d keys)", len(k.keys))
}

// GoString is String, for %#v.
func (k *Keyring) GoString() string { return k.String() }

// Seal encrypts plaintext for purpose (a label such as "provider-token";
// each purpose has its own key) under the first key, bound to
// associatedData (the row's identity).
func (k *Keyring) Seal(purpose string, plaintext, associatedData []byte) (string, error) {
	cur := k.keys[0]
	aead, err := cur.aead(purpose)
	if err != nil {
		return "", err
	}
	buf := make([]byte, idLen+nonceLen, idLen+nonceLen+len(plaintext)+tagLen)
	copy(buf, cur.id[:])
	rand.Read(buf[idLen:])
	buf = aead.Seal(buf, buf[idLen:idLen+nonceLen], plaintext, additional(cur.id, associatedData))
	return Prefix + b64.EncodeToString(buf), nil
}

// Open decrypts a value that Seal returned for the same purpose and
// associated data, under whichever of the keyring's keys sealed it. It
// fails with ErrMalformed, ErrUnknownKey or ErrAuth.
func (k *Keyring) Open(purpose, sealed string, associatedData []byte) ([]byte, error) {
	raw, err := decode(sealed)
	if err != nil {
		return nil, err
	}
	kk := k.find([idLen]byte(raw[:idLen]))
	if kk == nil {
		return nil, ErrUnknownKey
	}
	aead, err := kk.aead(purpose)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, raw[idLen:idLen+nonceLen], raw[idLen+nonceLen:], additional(kk.id, associatedData))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// IsSealed reports whether s has the form of a sealed value; anything else
// is plaintext (left by a version that stored secrets unencrypted).
func IsSealed(s string) bool {
	_, err := decode(s)
	return err == nil
}

// IsCurrent reports whether sealed was sealed under the first key, so that
// re-encryption would not change it. It does not authenticate the value.
func (k *Keyring) IsCurrent(sealed string) bool {
	raw, err := decode(sealed)
	return err == nil && bytes.Equal(raw[:idLen], k.keys[0].id[:])
}

// decode returns the bytes of a sealed value: key id, nonce, ciphertext
// and tag.
func decode(s string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		return nil, ErrMalformed
	}
	// The decoder skips line breaks; refusing them keeps one encoding per value.
	if strings.ContainsAny(rest, "\r\n") {
		return nil, ErrMalformed
	}
	raw, err := b64.Strict().DecodeString(rest)
	if err != nil || len(raw) < idLen+nonceLen+tagLen {
		return nil, ErrMalformed
	}
	return raw, nil
}

func (k *Keyring) find(id [idLen]byte) *key {
	for _, kk := range k.keys {
		if kk.id == id {
			return kk
		}
	}
	return nil
}

// aead returns the key's AES-256-GCM for purpose, deriving it once.
func (kk *key) aead(purpose string) (cipher.AEAD, error) {
	if a, ok := kk.aeads.Load(purpose); ok {
		return a.(cipher.AEAD), nil
	}
	if purpose == "" {
		return nil, errors.New("secrets: empty purpose")
	}
	dk, err := hkdf.Key(sha256.New, kk.secret, nil, "nextsecure aes-256-gcm "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	actual, _ := kk.aeads.LoadOrStore(purpose, a)
	return actual.(cipher.AEAD), nil
}

// additional is GCM's associated data: the format's prefix and the key id
// (so neither can be swapped) followed by the caller's.
func additional(id [idLen]byte, ad []byte) []byte {
	out := make([]byte, 0, len(Prefix)+idLen+len(ad))
	out = append(out, Prefix...)
	out = append(out, id[:]...)
	return append(out, ad...)
}
