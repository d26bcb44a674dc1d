package service

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/internal/password"
)

// legacyHashes remembers whether credentials still hold bcrypt hashes (from
// "nextsecure import"), looked up at most once a minute. While they do,
// every failed password check costs one argon2id and one bcrypt cost-10
// check, whichever the stored hash is or when there is none, so a failed
// sign-in's time tells neither an unknown email nor a not-yet-upgraded
// account. A successful check costs only its own hash: it reveals nothing
// the right password did not, and sign-ins of users who are not imported
// keep their speed however long dormant imported accounts stay on bcrypt.
type legacyHashes struct {
	mu      sync.Mutex
	checked time.Time
	present bool
}

// legacyRecheck is how long a legacyHashes answer is trusted.
const legacyRecheck = time.Minute

// legacyHashesPresent reports whether bcrypt hashes may be in use. A failed
// look-up keeps the last answer.
func (s *Service) legacyHashesPresent(ctx context.Context) bool {
	l := &s.legacy
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.checked.IsZero() && now.Sub(l.checked) < legacyRecheck {
		return l.present
	}
	var present bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM credentials WHERE password_hash LIKE '$2%')`).Scan(&present); err != nil {
		return l.present
	}
	l.present, l.checked = present, now
	return present
}

// forgetLegacyHashes makes the next check look again (after an import).
func (s *Service) forgetLegacyHashes() {
	s.legacy.mu.Lock()
	s.legacy.checked = time.Time{}
	s.legacy.mu.Unlock()
}

// dummyBcrypt is a bcrypt cost-10 hash (the template's cost) of nothing
// anyone types, made once.
var dummyBcrypt = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("nextsecure dummy bcrypt"), 10)
	if err != nil {
		panic(err)
	}
	return h
})

// padLegacy runs the check of the kind that hash is not: argon2id after a
// bcrypt hash, bcrypt cost 10 after an argon2id hash or none.
func padLegacy(pw, hash string) {
	if strings.HasPrefix(hash, "$2") {
		password.DummyVerify(pw)
		return
	}
	b := []byte(pw)
	if len(b) > 72 { // bcrypt reads 72 bytes at most
		b = b[:72]
	}
	_ = bcrypt.CompareHashAndPassword(dummyBcrypt(), b)
}
