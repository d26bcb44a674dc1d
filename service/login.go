package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nextsecure/nextsecure/db"
)

// LoginInput is a sign-in request.
type LoginInput struct {
	Email    string
	Password string
}

// errInvalidCredentials is the one answer to every failed sign-in, so an
// unknown email, a wrong password and a user without a password are
// indistinguishable.
func errInvalidCredentials() error {
	return Errorf(CodeInvalidCreds, "The email or password is incorrect.")
}

// Login checks an email and password and opens a new session.
//
// Every failure answers the same CodeInvalidCreds at the same cost, one
// password hash: an unknown or malformed email, or a user without a
// password, is checked against a dummy hash. CodeAccountDisabled comes only
// after a correct password. Failures count against the account (keyed on
// the normalised email, so unknown emails are throttled alike): after 10
// within 15 minutes every attempt is refused with CodeRateLimited until the
// window passes, whatever the client address and even with the right
// password; a successful sign-in or a password reset lifts it. A correct
// password stored with outdated parameters (or as legacy bcrypt) is
// rehashed in place.
// Errors: CodeInvalidCreds, CodeAccountDisabled, CodeRateLimited, CodeUnavailable.
func (s *Service) Login(ctx context.Context, in LoginInput, meta Meta) (User, SessionToken, error) {
	email, ok := NormalizeEmail(in.Email)
	if !ok {
		// No account can have this address, but the answer costs the same.
		if _, _, err := s.verify(ctx, in.Password, ""); err != nil {
			return User{}, SessionToken{}, err
		}
		return User{}, SessionToken{}, errInvalidCredentials()
	}
	key := failedLoginKey(email)
	if err := s.checkLoginLock(ctx, key); err != nil {
		return User{}, SessionToken{}, err
	}
	row, err := s.q.GetLoginByEmail(ctx, email)
	if err != nil && ErrorCode(translate(err)) != CodeNotFound {
		return User{}, SessionToken{}, translate(err)
	}
	// row is empty for an unknown email; an empty hash runs the dummy.
	ok, rehash, err := s.checkPassword(ctx, row.ID, in.Password, row.PasswordHash)
	if err != nil {
		return User{}, SessionToken{}, err
	}
	if !ok {
		if err := s.countFailedLogin(ctx, key, row.ID, "login_failure", meta); err != nil {
			return User{}, SessionToken{}, err
		}
		return User{}, SessionToken{}, errInvalidCredentials()
	}
	disabled := Errorf(CodeAccountDisabled, "This account has been disabled.")
	if !row.IsActive {
		err := s.tx(ctx, func(q *db.Queries) error {
			return s.audit(ctx, q, row.ID, row.ID, "login_failure", meta, "account disabled")
		})
		if err != nil {
			return User{}, SessionToken{}, err
		}
		return User{}, SessionToken{}, disabled
	}
	detail := ""
	if rehash {
		// Hashed outside any transaction; a busy hasher only postpones the upgrade.
		newHash, err := s.hash(ctx, in.Password)
		if err != nil {
			s.log.WarnContext(ctx, "password rehash skipped", "user", row.ID, "err", err)
		} else {
			// Compare-and-swap: a password changed meanwhile is never overwritten.
			n, err := s.q.UpgradeCredentialHash(ctx, db.UpgradeCredentialHashParams{
				NewHash: newHash, UserID: row.ID, OldHash: row.PasswordHash,
			})
			if err != nil {
				return User{}, SessionToken{}, translate(err)
			}
			if n == 1 {
				detail = "password hash upgraded"
			}
		}
	}
	// One statement, so one round trip: under load the hashing threads
	// share the cores with this work, and every round trip to PostgreSQL
	// costs them a context switch (docs/performance.md).
	now := s.now()
	token, tokenHash := newToken()
	session := SessionToken{ID: newID(now), Token: token, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	p, err := s.q.OpenLoginSession(ctx, db.OpenLoginSessionParams{
		UserID: row.ID, SessionID: session.ID, TokenHash: tokenHash, Now: now, ExpiresAt: session.ExpiresAt,
		Ip: truncate(meta.IP, 64), UserAgent: truncate(meta.UserAgent, 512),
		RateLimitKey: key, Detail: detail,
	})
	if err != nil {
		if ErrorCode(translate(err)) != CodeNotFound && !isForeignKeyViolation(err) {
			return User{}, SessionToken{}, translate(err)
		}
		// Deleted or deactivated since the password was checked.
		if u, err := s.q.GetUserProfile(ctx, row.ID); err == nil && !u.IsActive {
			return User{}, SessionToken{}, disabled
		}
		return User{}, SessionToken{}, errInvalidCredentials()
	}
	return userFromProfile(db.UserProfile(p)), session, nil
}

// checkPassword verifies pw against hash ("" runs the dummy verification).
// A stored hash that cannot be read is logged and counts as a mismatch.
func (s *Service) checkPassword(ctx context.Context, userID, pw, hash string) (ok, rehash bool, err error) {
	ok, rehash, err = s.verify(ctx, pw, hash)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return false, false, err
		}
		s.log.ErrorContext(ctx, "unreadable password hash", "user", userID, "err", err)
		return false, false, nil
	}
	return ok, rehash, nil
}

// failedLoginKey is the rate-limit key counting failed sign-ins on one
// (normalised) email address.
func failedLoginKey(email string) string { return "login:" + email }

// accountLoginKey is failedLoginKey for an account's stored email.
func accountLoginKey(email string) string {
	if e, ok := NormalizeEmail(email); ok {
		return failedLoginKey(e)
	}
	return failedLoginKey(strings.ToLower(strings.TrimSpace(email)))
}

// checkLoginLock fails with CodeRateLimited while the account behind key has
// used up its failed sign-ins. It only reads, so it runs before any hash.
// Errors: CodeRateLimited, CodeUnavailable.
func (s *Service) checkLoginLock(ctx context.Context, key string) error {
	locked, retry, err := s.exhausted(ctx, s.q, key, limitFailedLogins)
	if err != nil {
		return translate(err)
	}
	if locked {
		return rateLimited(retry)
	}
	return nil
}

// exhausted reports, without counting, whether key has used up l: the next
// event would be refused, for retryAfter. It is always false when rate
// limits are off.
func (s *Service) exhausted(ctx context.Context, q *db.Queries, key string, l Limit) (bool, time.Duration, error) {
	if !s.cfg.RateLimits {
		return false, 0, nil
	}
	now := s.now()
	row, err := q.PeekRateLimit(ctx, db.PeekRateLimitParams{Key: key, WindowFloor: now.Add(-l.Window)})
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return false, 0, nil
		}
		return false, 0, err
	}
	if int(row.Count) < l.Max {
		return false, 0, nil
	}
	return true, row.WindowStart.Add(l.Window).Sub(now), nil
}

// countFailedLogin counts a wrong password against the account behind key
// and records event for userID ("" when the email is unknown).
func (s *Service) countFailedLogin(ctx context.Context, key, userID, event string, meta Meta) error {
	return s.tx(ctx, func(q *db.Queries) error {
		if _, _, err := s.hit(ctx, q, key, limitFailedLogins); err != nil {
			return err
		}
		return s.audit(ctx, q, userID, userID, event, meta, "")
	})
}
