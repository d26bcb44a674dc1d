// Package password hashes and verifies user passwords (argon2id, with
// read-only support for legacy bcrypt hashes), enforces the password policy
// and limits how many hashes run at once.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/internal/password/internal/argon2"
)

// Current argon2id parameters (OWASP: m=19 MiB, t=2, p=1).
const (
	memoryKiB   = 19 * 1024
	iterations  = 2
	parallelism = 1
	saltLen     = 16
	keyLen      = 32
)

// Bounds on parameters read from stored hashes, so that a garbled or hostile
// hash cannot make Verify allocate huge memory or spin for minutes.
const (
	maxMemoryKiB   = 256 * 1024
	maxIterations  = 10
	maxParallelism = 16
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 128
	maxBcryptCost  = 14
	bcryptHashLen  = 60
	bcryptMaxBytes = 72
)

// ErrInvalidHash is returned (wrapped) by Verify when the stored hash is
// malformed, of an unsupported kind, or has out-of-bounds parameters.
var ErrInvalidHash = errors.New("password: invalid hash")

var b64 = base64.RawStdEncoding

// workAreas keeps, for reuse, the argon2id work areas (19 MiB each) of
// hashes whose parameters give the current ones' size: at most one per hash
// that a default Limiter lets run at once, so at most GOMAXPROCS × 19 MiB
// for the life of the process. Hashes beyond that, or of another size (a
// stored hash with other parameters), allocate their own. Work areas are
// cleared after every hash, kept or not.
var workAreas = argon2.NewPool(memoryKiB, parallelism, runtime.GOMAXPROCS(0))

// argon2Hash is a parsed argon2id PHC string.
type argon2Hash struct {
	memory      uint32
	iterations  uint32
	parallelism uint8
	salt        []byte
	key         []byte
}

// Hash returns the argon2id hash of password with the current parameters,
// encoded as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	key := workAreas.IDKey([]byte(password), salt, iterations, memoryKiB, parallelism, keyLen)
	return encode(argon2Hash{memoryKiB, iterations, parallelism, salt, key}), nil
}

func encode(h argon2Hash) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.memory, h.iterations, h.parallelism,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// Verify reports whether password matches the stored hash encoded, which is
// either an argon2id PHC string (v=19, any parameters within bounds: m at
// most 256 MiB, t at most 10, p at most 16, 8 to 64-byte salt, 16 to
// 128-byte hash) or a legacy bcrypt hash ($2a$, $2b$ or $2y$, cost at most
// 14).
//
// needsRehash is true only when ok is true and the hash is bcrypt or uses
// argon2id parameters other than the current ones; the caller should then
// store Hash(password). A password longer than 72 bytes never matches a
// bcrypt hash, since bcrypt ignores the bytes past 72.
//
// err is non-nil (wrapping ErrInvalidHash) only for a malformed or
// unsupported hash, in which case ok and needsRehash are false.
func Verify(password, encoded string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		h, err := parseArgon2(encoded)
		if err != nil {
			return false, false, err
		}
		got := workAreas.IDKey([]byte(password), h.salt, h.iterations, h.memory, h.parallelism, uint32(len(h.key)))
		if subtle.ConstantTimeCompare(got, h.key) != 1 {
			return false, false, nil
		}
		return true, !h.current(), nil
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return verifyBcrypt(password, encoded)
	default:
		return false, false, fmt.Errorf("%w: unsupported format", ErrInvalidHash)
	}
}

func (h argon2Hash) current() bool {
	return h.memory == memoryKiB && h.iterations == iterations && h.parallelism == parallelism &&
		len(h.salt) == saltLen && len(h.key) == keyLen
}

// parseArgon2 strictly parses $argon2id$v=19$m=M,t=T,p=P$salt$key.
func parseArgon2(s string) (argon2Hash, error) {
	var h argon2Hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, fmt.Errorf("%w: want 5 $-separated fields", ErrInvalidHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("%w: unsupported version %q", ErrInvalidHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, fmt.Errorf("%w: want parameters m,t,p", ErrInvalidHash)
	}
	m, err := parseParam(params[0], "m=", maxMemoryKiB)
	if err != nil {
		return h, err
	}
	t, err := parseParam(params[1], "t=", maxIterations)
	if err != nil {
		return h, err
	}
	p, err := parseParam(params[2], "p=", maxParallelism)
	if err != nil {
		return h, err
	}
	if t < 1 || p < 1 || m < 8*p {
		return h, fmt.Errorf("%w: parameters too small", ErrInvalidHash)
	}
	salt, err := decodeB64("salt", parts[4], minSaltLen, maxSaltLen)
	if err != nil {
		return h, err
	}
	key, err := decodeB64("hash", parts[5], minKeyLen, maxKeyLen)
	if err != nil {
		return h, err
	}
	return argon2Hash{m, t, uint8(p), salt, key}, nil
}

// parseParam parses "<name><decimal>", with no sign or leading zero, whose
// value is at most limit.
func parseParam(s, name string, limit uint32) (uint32, error) {
	digits, found := strings.CutPrefix(s, name)
	if !found || (len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("%w: bad parameter %q", ErrInvalidHash, s)
	}
	v, err := strconv.ParseUint(digits, 10, 32) // rejects "", signs, non-digits
	if err != nil || v > uint64(limit) {
		return 0, fmt.Errorf("%w: parameter %q out of range", ErrInvalidHash, s)
	}
	return uint32(v), nil
}

// decodeB64 decodes the field name, canonical unpadded standard base64 of
// lo..hi bytes.
func decodeB64(name, s string, lo, hi int) ([]byte, error) {
	if b64.DecodedLen(len(s)) > hi {
		return nil, fmt.Errorf("%w: %s too long", ErrInvalidHash, name)
	}
	b, err := b64.DecodeString(s)
	// Re-encoding rejects what the decoder tolerates: newlines, non-zero
	// trailing bits.
	if err != nil || b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("%w: %s is not canonical base64", ErrInvalidHash, name)
	}
	if len(b) < lo {
		return nil, fmt.Errorf("%w: %s too short", ErrInvalidHash, name)
	}
	return b, nil
}

func verifyBcrypt(password, encoded string) (ok, needsRehash bool, err error) {
	if len(encoded) != bcryptHashLen {
		return false, false, fmt.Errorf("%w: bcrypt hash length %d", ErrInvalidHash, len(encoded))
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return false, false, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
	if cost > maxBcryptCost {
		return false, false, fmt.Errorf("%w: bcrypt cost %d above %d", ErrInvalidHash, cost, maxBcryptCost)
	}
	if len(password) > bcryptMaxBytes {
		// bcrypt would compare only the first 72 bytes: never a match.
		return false, false, nil
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, false, nil
	default:
		return false, false, fmt.Errorf("%w: %w", ErrInvalidHash, err)
	}
}

// dummyHash is a well-formed hash with the current parameters that no
// password matches; it gives DummyVerify the cost of a real Verify.
var dummyHash = sync.OnceValue(func() string {
	salt := make([]byte, saltLen)
	key := make([]byte, keyLen)
	rand.Read(salt) // never returns an error (crypto/rand, Go 1.24+)
	rand.Read(key)
	return encode(argon2Hash{memoryKiB, iterations, parallelism, salt, key})
})

// DummyVerify costs the same as Verify against a current hash and discards
// the result. Call it when the account is unknown so that the response time
// does not reveal whether the account exists.
func DummyVerify(password string) {
	Verify(password, dummyHash())
}
