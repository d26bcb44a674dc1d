package service

import (
	"context"
	"errors"
	"strings"

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
// after a correct password. Every attempt is counted against the account
// (keyed on the normalised email, so unknown emails are throttled alike)
// before its password is checked, in one atomic statement: past 10 within
// 15 minutes an attempt is refused with CodeRateLimited without a hash,
// whatever the client address and even with the right password, so a burst
// of concurrent guesses gets 10 answers, not one per guess. A successful
// sign-in or a password reset lifts the count. A correct password stored
// with outdated parameters (or as legacy bcrypt) is rehashed in place.
//
// The session is opened only if, in the transaction that inserts it, the
// user is still active and its credential still the one verified
// (LockSignIn): a password reset or change, deactivation or deletion that
// commits while the password is being checked makes the sign-in check
// again, against what is current, so it ends as it would have a moment
// later (normally a failure); one that comes later revokes the session.
// When the user has two-factor on, a right password opens no session: the
// error is then an *MFARequired carrying the mfa token (CompleteMFALogin).
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
	if err := s.admitHash(ctx); err != nil {
		return User{}, SessionToken{}, err
	}
	key := failedLoginKey(email)
	if err := s.countLoginAttempt(ctx, key); err != nil {
		return User{}, SessionToken{}, err
	}
	// Check the password, then open the session if the hash checked is
	// still current. If it is not (a reset, a change, or another sign-in's
	// rehash committed in between), check once more against the current
	// one: the attempt then ends as it would have a moment later.
	for checks := 1; ; checks++ {
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
			if err := s.recordFailure(ctx, row.ID, "login_failure", meta, ""); err != nil {
				return User{}, SessionToken{}, err
			}
			return User{}, SessionToken{}, errInvalidCredentials()
		}
		if !row.IsActive {
			if err := s.recordFailure(ctx, row.ID, "login_failure", meta, "account disabled"); err != nil {
				return User{}, SessionToken{}, err
			}
			return User{}, SessionToken{}, errAccountDisabled()
		}
		newHash := ""
		if rehash {
			// Hashed before the transaction opens; a busy hasher only
			// postpones the upgrade.
			if newHash, err = s.hash(ctx, in.Password); err != nil {
				s.log.WarnContext(ctx, "password rehash skipped", "user", row.ID, "err", err)
				newHash = ""
			}
		}
		user, session, err := s.openLoginSession(ctx, row.ID, row.PasswordHash, newHash, key, meta)
		if ErrorCode(err) != CodeNotFound {
			return user, session, err
		}
		// Deactivated, deleted, or its password hash changed since it
		// was checked.
		if checks == 2 {
			return User{}, SessionToken{}, errInvalidCredentials()
		}
	}
}

func errAccountDisabled() error {
	return Errorf(CodeAccountDisabled, "This account has been disabled.")
}

// openLoginSession finishes a sign-in whose password verified against
// verifiedHash, in one transaction: it upgrades the hash to newHash (unless
// ""), checks and locks the user and credential (LockSignIn), opens the
// session, lifts the account's failed sign-in count and records the
// login_success event. CodeNotFound means the user is no longer active or
// its credential no longer holds verifiedHash, and then nothing is written.
func (s *Service) openLoginSession(ctx context.Context, userID, verifiedHash, newHash, key string,
	meta Meta) (User, SessionToken, error) {
	var user User
	var session SessionToken
	var mfa *MFARequired
	err := s.tx(ctx, func(q *db.Queries) error {
		user, session, mfa = User{}, SessionToken{}, nil
		current, detail := verifiedHash, ""
		if newHash != "" {
			// Compare-and-swap: a password changed meanwhile is never
			// overwritten (and LockSignIn then finds no row).
			n, err := q.UpgradeCredentialHash(ctx, db.UpgradeCredentialHashParams{
				NewHash: newHash, UserID: userID, OldHash: verifiedHash,
			})
			if err != nil {
				return err
			}
			if n == 1 {
				current, detail = newHash, "password hash upgraded"
			}
		}
		if _, err := q.LockSignIn(ctx, db.LockSignInParams{UserID: userID, PasswordHash: current}); err != nil {
			return err
		}
		// With two-factor on, the right password earns an mfa token, not
		// a session; the failed sign-in count stays until the second
		// factor is right too, so a known password cannot be used to lift
		// the lock that wrong codes build.
		challenge, err := s.mfaChallenge(ctx, q, userID, "password")
		if err != nil {
			return err
		}
		if challenge != nil {
			mfa = challenge
			return nil
		}
		if session, err = s.openSession(ctx, q, userID, meta); err != nil {
			return err
		}
		if err := q.ResetRateLimit(ctx, key); err != nil {
			return err
		}
		if err := s.audit(ctx, q, userID, userID, "login_success", meta, detail); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, userID)
		user = userFromProfile(p)
		return err
	})
	if err == nil && mfa != nil {
		return User{}, SessionToken{}, mfa
	}
	return user, session, err
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

// countLoginAttempt counts one password attempt against the account behind
// key, before the password is checked, and fails with CodeRateLimited when
// it is past the limit: the count and the check are one atomic statement
// (HitRateLimit), so concurrent attempts cannot all pass it.
// Errors: CodeRateLimited, CodeUnavailable.
func (s *Service) countLoginAttempt(ctx context.Context, key string) error {
	ok, retry, err := s.hit(ctx, s.q, key, limitFailedLogins)
	if err != nil {
		return translate(err)
	}
	if !ok {
		return rateLimited(retry)
	}
	return nil
}

// recordFailure records a failed sign-in or re-authentication event for
// userID ("" when the email is unknown); the attempt was counted before.
func (s *Service) recordFailure(ctx context.Context, userID, event string, meta Meta, detail string) error {
	return translate(s.audit(ctx, s.q, userID, userID, event, meta, detail))
}
