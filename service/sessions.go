package service

import (
	"context"
	"time"

	"github.com/nextsecure/nextsecure/db"
)

// SessionToken is a new session as its owner receives it, once.
type SessionToken struct {
	ID        string
	Token     string
	ExpiresAt time.Time
}

// Principal is an authenticated request's user and session.
type Principal struct {
	User      User
	SessionID string
	// SessionExpiresAt is the session's expiry, after any slide.
	SessionExpiresAt time.Time
	// SessionExtended says that this request slid the session's expiry,
	// so a client that keeps the token with an expiry (a cookie) should
	// be told the new one.
	SessionExtended bool
}

// defaultSessionMaxTTL is SESSION_MAX_TTL's default, 90 days.
const defaultSessionMaxTTL = 2160 * time.Hour

// sessionExpiry is when a session created at created should expire if used
// at now: SESSION_TTL after its last use, but never past SESSION_MAX_TTL
// after its creation.
func (s *Service) sessionExpiry(created, now time.Time) time.Time {
	maxTTL := s.cfg.SessionMaxTTL
	if maxTTL <= 0 {
		maxTTL = defaultSessionMaxTTL
	}
	exp := now.Add(s.cfg.SessionTTL)
	if limit := created.Add(maxTTL); exp.After(limit) {
		return limit
	}
	return exp
}

// sessionTouchEvery is how stale last_used_at may get before a request
// writes it (and slides the expiry): about once a minute, not every request.
const sessionTouchEvery = time.Minute

// openSession creates a session for userID inside q's transaction. The
// caller must have decided, in the same transaction and with the rows
// locked, that the user may have it: a password sign-in runs LockSignIn
// first (openLoginSession); VerifyEmail creates the user in the same
// transaction; a provider sign-in runs LockActiveUser (signInWithProvider);
// a magic link runs LockUserForSignIn (VerifyMagicLink). Any new way to sign
// in needs the same.
func (s *Service) openSession(ctx context.Context, q *db.Queries, userID string, meta Meta) (SessionToken, error) {
	now := s.now()
	token, hash := newToken()
	row, err := q.CreateSession(ctx, db.CreateSessionParams{
		ID:        newID(now),
		UserID:    userID,
		TokenHash: hash,
		Now:       now,
		ExpiresAt: s.sessionExpiry(now, now),
		Ip:        truncate(meta.IP, 64),
		UserAgent: truncate(meta.UserAgent, 512),
	})
	if err != nil {
		return SessionToken{}, err
	}
	return SessionToken{ID: row.ID, Token: token, ExpiresAt: row.ExpiresAt}, nil
}

// Authenticate returns the principal of a session token. It runs one indexed
// query, and writes only when the session's last use is over a minute old:
// then it slides the expiry to SESSION_TTL from now, capped at
// SESSION_MAX_TTL from the session's creation, and reports it in the
// principal (SessionExtended).
// Errors: CodeUnauthenticated, CodeUnavailable.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 128 {
		return Principal{}, Errorf(CodeUnauthenticated, "Sign in first.")
	}
	now := s.now()
	row, err := s.q.GetSessionUser(ctx, db.GetSessionUserParams{TokenHash: hashToken(token), Now: now})
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return Principal{}, Errorf(CodeUnauthenticated, "Sign in first.")
		}
		return Principal{}, translate(err)
	}
	if !row.UserProfile.IsActive {
		return Principal{}, Errorf(CodeUnauthenticated, "Sign in first.")
	}
	p := Principal{User: userFromProfile(row.UserProfile), SessionID: row.SessionID, SessionExpiresAt: row.ExpiresAt}
	if now.Sub(row.LastUsedAt) >= sessionTouchEvery {
		expires := s.sessionExpiry(row.CreatedAt, now)
		n, err := s.q.TouchSession(ctx, db.TouchSessionParams{
			ID: row.SessionID, Now: now, ExpiresAt: expires,
			StaleBefore: now.Add(-sessionTouchEvery),
		})
		if err != nil {
			return Principal{}, translate(err)
		}
		if n == 1 {
			p.SessionExtended = !expires.Equal(row.ExpiresAt)
			p.SessionExpiresAt = expires
		}
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Logout ends the principal's session; the user's other sessions stay.
// Errors: CodeUnavailable.
func (s *Service) Logout(ctx context.Context, p Principal, meta Meta) error {
	return s.tx(ctx, func(q *db.Queries) error {
		if _, err := q.DeleteSession(ctx, db.DeleteSessionParams{ID: p.SessionID, UserID: p.User.ID}); err != nil {
			return err
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "logout", meta, "")
	})
}
