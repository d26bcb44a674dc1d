package service

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nextsecure/nextsecure/db"
)

// ProfileUpdate is a change to the signed-in user's own profile; what is
// left unset stays as it is.
type ProfileUpdate struct {
	// Name, when not nil, replaces the name (registration rules apply).
	Name *string
	// SetImage says whether Image applies: nil clears the image, anything
	// else must be an absolute http(s) URL of at most 2048 characters.
	SetImage bool
	Image    *string
}

// UpdateProfile changes the principal's name and image. An update that sets
// nothing changes nothing and returns the user as is.
// Errors: CodeValidation, CodeUnauthenticated (the user is gone), CodeUnavailable.
func (s *Service) UpdateProfile(ctx context.Context, p Principal, in ProfileUpdate, meta Meta) (User, error) {
	var name, image *string
	var nameErr, imageErr *FieldError
	if in.Name != nil {
		n, err := normalizeName(*in.Name)
		name, nameErr = &n, err
	}
	if in.SetImage && in.Image != nil {
		img, err := imageURL(*in.Image)
		image, imageErr = &img, err
	}
	if err := validation(nameErr, imageErr); err != nil {
		return User{}, err
	}
	var user User
	err := s.tx(ctx, func(q *db.Queries) error {
		if name != nil || in.SetImage {
			if _, err := q.UpdateUserProfile(ctx, db.UpdateUserProfileParams{
				ID: p.User.ID, Name: name, SetImage: in.SetImage, Image: image,
			}); err != nil {
				return err
			}
			if err := s.audit(ctx, q, p.User.ID, p.User.ID, "profile_updated", meta, ""); err != nil {
				return err
			}
		}
		row, err := q.GetUserProfile(ctx, p.User.ID)
		user = userFromProfile(row)
		return err
	})
	if ErrorCode(err) == CodeNotFound {
		return User{}, Errorf(CodeUnauthenticated, "Sign in first.")
	}
	return user, err
}

// imageURL checks a profile picture's URL: absolute http or https with a
// host, no credentials, at most 2048 characters, no spaces or control
// characters. Surrounding white space is trimmed.
func imageURL(s string) (string, *FieldError) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxImageLen {
		return "", &FieldError{Field: "image", Code: "too_long", Message: "Use a URL of at most 2048 characters."}
	}
	invalid := &FieldError{Field: "image", Code: "invalid", Message: "Use an absolute http or https URL, or null."}
	if !printable(s) || strings.ContainsAny(s, " \t\r\n") {
		return "", invalid
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Opaque != "" {
		return "", invalid
	}
	return s, nil
}

// errWrongPassword answers a missing or wrong current password.
func errWrongPassword() error {
	return Errorf(CodeInvalidCreds, "The password is incorrect.")
}

// reauthenticate checks that pw is the principal's current password before a
// sensitive change, and returns the stored hash ("" when the user has no
// password; pw is then ignored). Like a sign-in, the attempt is counted
// against the account's failed sign-ins before the password is checked, and
// refused without a hash past the limit, so a stolen session cannot be used
// to guess it, not even by a burst of concurrent requests; a correct
// password lifts the count.
// Errors: CodeInvalidCreds, CodeRateLimited, CodeUnavailable.
func (s *Service) reauthenticate(ctx context.Context, p Principal, pw string, meta Meta) (string, error) {
	cred, err := s.q.GetCredentialByUser(ctx, p.User.ID)
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return "", nil
		}
		return "", translate(err)
	}
	if pw == "" {
		return "", errWrongPassword()
	}
	key := accountLoginKey(p.User.Email)
	if err := s.countLoginAttempt(ctx, key); err != nil {
		return "", err
	}
	ok, _, err := s.checkPassword(ctx, p.User.ID, pw, cred.PasswordHash)
	if err != nil {
		return "", err
	}
	if !ok {
		if err := s.recordFailure(ctx, p.User.ID, "reauthentication_failure", meta, ""); err != nil {
			return "", err
		}
		return "", errWrongPassword()
	}
	if err := s.q.ResetRateLimit(ctx, key); err != nil {
		return "", translate(err)
	}
	return cred.PasswordHash, nil
}

// ChangePasswordInput is a password change by the signed-in user.
type ChangePasswordInput struct {
	// CurrentPassword is required when the user has a password and
	// ignored when they have none.
	CurrentPassword string
	NewPassword     string
}

// ChangePassword sets the principal's password (the first one, for a user
// who signed up through a provider). The new password follows the
// registration rules. Every other session of the user is revoked (the
// calling one stays), outstanding reset tokens are voided, the failed
// sign-in throttle is lifted, and a notice is queued. A password changed by
// someone else between the check and the write is never overwritten: the
// change then fails with CodeInvalidCreds.
// Errors: CodeValidation, CodeInvalidCreds, CodeRateLimited, CodeUnauthenticated
// (the user is gone), CodeUnavailable.
func (s *Service) ChangePassword(ctx context.Context, p Principal, in ChangePasswordInput, meta Meta) error {
	if err := validation(passwordField("newPassword", in.NewPassword, userInputs(p.User.Email, p.User.Name)...)); err != nil {
		return err
	}
	oldHash, err := s.reauthenticate(ctx, p, in.CurrentPassword, meta)
	if err != nil {
		return err
	}
	newHash, err := s.hash(ctx, in.NewPassword)
	if err != nil {
		return err
	}
	err = s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if oldHash != "" {
			n, err := q.UpgradeCredentialHash(ctx, db.UpgradeCredentialHashParams{
				NewHash: newHash, UserID: p.User.ID, OldHash: oldHash,
			})
			if err != nil {
				return err
			}
			if n == 0 {
				return errWrongPassword() // changed or reset meanwhile
			}
		} else if _, err := q.CreateCredential(ctx, db.CreateCredentialParams{
			ID: newID(s.now()), UserID: p.User.ID, PasswordHash: newHash,
		}); err != nil {
			if ErrorCode(translate(err)) == CodeConflict {
				return errWrongPassword() // a password was set meanwhile
			}
			return err
		}
		// The user's row lock before the sessions go, as in ResetPassword.
		if _, err := q.LockUser(ctx, p.User.ID); err != nil {
			return err
		}
		if _, err := q.DeleteOtherSessions(ctx, db.DeleteOtherSessionsParams{
			UserID: p.User.ID, KeepID: p.SessionID,
		}); err != nil {
			return err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &p.User.ID, Purpose: purposeResetPassword,
		}); err != nil {
			return err
		}
		if err := q.ResetRateLimit(ctx, accountLoginKey(p.User.Email)); err != nil {
			return err
		}
		if err := s.audit(ctx, q, p.User.ID, p.User.ID, "password_changed", meta, ""); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, passwordChangedArgs{To: p.User.Email})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return Errorf(CodeUnauthenticated, "Sign in first.") // the user was deleted meanwhile
	}
	return err
}

// DeleteAccount deletes the principal's user and, by cascade, everything of
// theirs: credentials, linked accounts, sessions and tokens. When the user
// has a password, pw must be it. The audit trail keeps an account_deleted
// event. The last active admin cannot delete themselves: under the admins'
// lock (LockAdmins), as the admin routes, so of two admins deleting
// themselves at once, one is refused when they are the last two.
// Errors: CodeInvalidCreds, CodeRateLimited, CodeConflict (the last active
// admin), CodeUnauthenticated (the user is gone), CodeUnavailable.
func (s *Service) DeleteAccount(ctx context.Context, p Principal, pw string, meta Meta) error {
	if _, err := s.reauthenticate(ctx, p, pw, meta); err != nil {
		return err
	}
	return s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockAdmins(ctx); err != nil {
			return err
		}
		before, err := q.GetUser(ctx, p.User.ID)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return Errorf(CodeUnauthenticated, "Sign in first.")
			}
			return err
		}
		if before.Role == RoleAdmin && before.IsActive {
			if err := s.requireOtherAdmin(ctx, q); err != nil {
				return err
			}
		}
		n, err := q.DeleteUser(ctx, p.User.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(CodeUnauthenticated, "Sign in first.")
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "account_deleted", meta, "")
	})
}

// SessionInfo is a live session as its owner sees it, without its token.
type SessionInfo struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  string
	IP         string
	// Current marks the session of the principal that asked.
	Current bool
}

// ListSessions returns the principal's live sessions, most recently used first.
// Errors: CodeUnavailable.
func (s *Service) ListSessions(ctx context.Context, p Principal) ([]SessionInfo, error) {
	rows, err := s.q.ListSessionsByUser(ctx, db.ListSessionsByUserParams{UserID: p.User.ID, Now: s.now()})
	if err != nil {
		return nil, translate(err)
	}
	out := make([]SessionInfo, len(rows))
	for i, r := range rows {
		out[i] = SessionInfo{
			ID: r.ID, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt,
			UserAgent: r.UserAgent, IP: r.Ip, Current: r.ID == p.SessionID,
		}
	}
	return out, nil
}

// RevokeSession ends one of the principal's live sessions, possibly the
// current one (which amounts to signing out).
// Errors: CodeNotFound (unknown, expired, already revoked or another
// user's), CodeUnavailable.
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string, meta Meta) error {
	return s.tx(ctx, func(q *db.Queries) error {
		n, err := q.RevokeSession(ctx, db.RevokeSessionParams{ID: id, UserID: p.User.ID, Now: s.now()})
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(CodeNotFound, "No such session.")
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "session_revoked", meta, "session "+id)
	})
}

// UnlinkAccount removes the principal's linked accounts of provider. It
// refuses to remove the user's last way to sign in (no password and no other
// linked account); the check and the removal run in one transaction under a
// per-user lock, so two concurrent unlinks cannot both pass.
// Errors: CodeNotFound (no linked account of that provider),
// CodeLastLoginMethod, CodeUnavailable.
func (s *Service) UnlinkAccount(ctx context.Context, p Principal, provider string, meta Meta) error {
	return s.tx(ctx, func(q *db.Queries) error {
		if err := q.LockLoginMethods(ctx, p.User.ID); err != nil {
			return err
		}
		n, err := q.DeleteAccountsByProvider(ctx, db.DeleteAccountsByProviderParams{
			UserID: p.User.ID, Provider: provider,
		})
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(CodeNotFound, "No linked account of that provider.")
		}
		left, err := q.CountAccountsByUser(ctx, p.User.ID)
		if err != nil {
			return err
		}
		if left == 0 {
			hasPassword := true
			if _, err := q.GetCredentialByUser(ctx, p.User.ID); err != nil {
				if ErrorCode(translate(err)) != CodeNotFound {
					return err
				}
				hasPassword = false
			}
			if !hasPassword {
				// Returning an error rolls the removal back.
				return Errorf(CodeLastLoginMethod, "Set a password before removing your last sign-in method.")
			}
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "account_unlinked", meta, "provider "+provider)
	})
}
