package service

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// crockford is Crockford's base32 alphabet in lower case: URL-safe, no
// ambiguous letters, and sorts like the numbers it encodes.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// newID returns a 26-character id: 48 bits of milliseconds since the epoch
// then 80 random bits, base32. Ids sort by creation time, fit the seed's text
// columns beside its cuids, and collide only if 2^40 are made in one millisecond.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:])
	// 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
	var out [26]byte
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// newToken returns a fresh secret token of 256 bits from crypto/rand,
// URL-safe, and the SHA-256 that is stored in its place.
func newToken() (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashToken(token)
}

// hashToken is the stored form of a token. Tokens carry 256 random bits, so
// a fast unsalted hash is enough: there is nothing to guess.
func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// hashTokenHex is hashToken in the text form verification_tokens stores.
func hashTokenHex(token string) string {
	return hex.EncodeToString(hashToken(token))
}
