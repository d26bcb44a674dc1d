package service

import (
	"context"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/db"
)

// Token purposes, as stored in verification_tokens.purpose.
const (
	purposeVerifyEmail   = "verify_email"
	purposeResetPassword = "reset_password"
)

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Name     string
	Email    string
	Password string
}

// Register starts a sign-up. It answers the same way whether the email is
// new, pending or already has an account, so it reveals nothing:
//   - new or pending: the pending registration is replaced (every earlier
//     token for the email dies at once) and a verification mail job is
//     queued in the same transaction; the job issues the token when it
//     sends, so the mail always carries the current registration;
//   - an account exists: nothing changes; its owner gets a notice, at most
//     one an hour.
//
// One verification mail a minute goes to an address: a mail held back by
// that limit is delayed, not dropped, and of several waiting for one
// address only the newest is sent (see prepareVerification).
//
// The password is hashed first in every case, before the transaction opens,
// so all answers cost the same.
// Errors: CodeValidation, CodeUnavailable.
func (s *Service) Register(ctx context.Context, in RegisterInput, meta Meta) error {
	if err := s.admitHash(ctx); err != nil {
		return err
	}
	name, nameErr := normalizeName(in.Name)
	email, emailErr := emailField(in.Email)
	if err := validation(nameErr, emailErr, passwordField("password", in.Password, email, name)); err != nil {
		return err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return err
	}
	return s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := q.LockEmail(ctx, email); err != nil {
			return err
		}
		user, err := q.GetUserByEmail(ctx, email)
		if err == nil {
			return s.noticeAccountExists(ctx, tx, q, user)
		}
		if ErrorCode(translate(err)) != CodeNotFound {
			return err
		}
		// Replace the pending registration: a new row with a new id, so
		// every token bound to the old one dies with it, now, even when
		// the new mail must wait; unbound ones die too.
		if _, err := q.DeletePreregistrationByEmail(ctx, email); err != nil {
			return err
		}
		if _, err := q.DeleteVerifyTokensForEmail(ctx, email); err != nil {
			return err
		}
		now := s.now()
		pre, err := q.CreatePreregistration(ctx, db.CreatePreregistrationParams{
			ID: newID(now), FullName: name, Email: email, PasswordHash: hash,
			ExpiresAt: now.Add(s.cfg.VerifyTTL), Now: now,
			Ip: truncate(meta.IP, 64), UserAgent: truncate(meta.UserAgent, 512),
		})
		if err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, pre.Email)
	})
}

// sendVerification queues a verification mail job for email in tx. The job
// holds no token: its worker issues one when it sends.
func (s *Service) sendVerification(ctx context.Context, tx pgx.Tx, email string) error {
	return s.enqueue(ctx, tx, verifyEmailArgs{Email: email})
}

// noticeAccountExists tells an account's owner that someone tried to sign up
// with their address, at most once an hour, and changes nothing else.
func (s *Service) noticeAccountExists(ctx context.Context, tx pgx.Tx, q *db.Queries, user db.User) error {
	if ok, _, err := s.hit(ctx, q, "mail:notice:"+user.Email, limitNotice); err != nil || !ok {
		return err
	}
	return s.enqueue(ctx, tx, accountExistsArgs{To: user.Email})
}

// ResendVerification queues a fresh verification mail for a pending
// registration, and makes every earlier verification token for the email
// useless at once, even when the new mail must wait for the one-a-minute
// limit (API.md). It answers nil whatever the email's state, and does the
// same work whatever it is: one short transaction that takes the email's
// lock, voids the email's verification tokens (none, for an unknown
// address) and inserts the mail job. The job looks the email up when it
// runs and sends nothing when the address is unknown, already an account,
// or its registration expired; it issues the new token and extends the
// registration.
// Errors: CodeUnavailable.
func (s *Service) ResendVerification(ctx context.Context, emailIn string, meta Meta) error {
	email, ok := NormalizeEmail(emailIn)
	if !ok {
		return nil
	}
	return s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		// The email's lock first, then its tokens: the order of every workflow.
		if err := q.LockEmail(ctx, email); err != nil {
			return err
		}
		if _, err := q.DeleteVerifyTokensForEmail(ctx, email); err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, email)
	})
}

// consumeTokenLocked consumes a live token of purpose under the lock of
// its email: it reads which email the token is for, takes LockEmail (the
// order of register, resend and the mail jobs, which lock the email and
// then delete tokens), then deletes the token, so that of many concurrent
// callers with one token one gets it. Not found means unknown, expired,
// of another purpose, or consumed or voided while it waited for the lock.
func consumeTokenLocked(ctx context.Context, q *db.Queries, token, purpose string, now time.Time) (db.ConsumeVerificationTokenRow, error) {
	email, err := q.GetVerificationTokenEmail(ctx, db.GetVerificationTokenEmailParams{
		TokenHash: hashTokenHex(token), Purpose: purpose, Now: now,
	})
	if err != nil {
		return db.ConsumeVerificationTokenRow{}, err
	}
	if err := q.LockEmail(ctx, email); err != nil {
		return db.ConsumeVerificationTokenRow{}, err
	}
	return q.ConsumeVerificationToken(ctx, db.ConsumeVerificationTokenParams{
		TokenHash: hashTokenHex(token), Purpose: purpose, Now: now,
	})
}

// VerifyEmail consumes a verification token and, in one transaction, creates
// the account from its pending registration (the name and password given at
// sign-up, email verified now, active), deletes the registration with its
// tokens, and opens a session. The token is consumed atomically: of many
// concurrent calls with one token, one succeeds. It locks the token's email
// (LockEmail) before it consumes the token, the order of Register and
// ResendVerification, which lock the email and then delete its tokens.
// Errors: CodeInvalidToken (unknown, used, expired, of another purpose, or
// its registration expired or superseded by an account), CodeUnavailable.
func (s *Service) VerifyEmail(ctx context.Context, token string, meta Meta) (User, SessionToken, error) {
	invalid := Errorf(CodeInvalidToken, "This link is invalid or has expired.")
	if token == "" || len(token) > 128 {
		return User{}, SessionToken{}, invalid
	}
	var user User
	var session SessionToken
	var consumed bool // the token was used up, but no account was made
	err := s.tx(ctx, func(q *db.Queries) error {
		user, session, consumed = User{}, SessionToken{}, false
		now := s.now()
		tok, err := consumeTokenLocked(ctx, q, token, purposeVerifyEmail, now)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if tok.PreregistrationID == nil {
			consumed = true
			return nil
		}
		pre, err := q.GetPreregistration(ctx, *tok.PreregistrationID)
		if err != nil {
			return err
		}
		taken, err := emailTaken(ctx, q, pre.Email)
		if err != nil {
			return err
		}
		if taken || (pre.ExpiresAt != nil && !pre.ExpiresAt.After(now)) {
			// Void the registration but keep the answer uniform.
			if _, err := q.DeletePreregistration(ctx, pre.ID); err != nil {
				return err
			}
			consumed = true
			return nil
		}
		row, err := q.CreateUser(ctx, db.CreateUserParams{
			ID: newID(now), Name: &pre.FullName, Email: pre.Email, EmailVerified: &now,
			IsActive: true, Role: RoleUser,
		})
		if err != nil {
			return err
		}
		if _, err := q.CreateCredential(ctx, db.CreateCredentialParams{
			ID: newID(now), UserID: row.ID, PasswordHash: pre.PasswordHash,
		}); err != nil {
			return err
		}
		if _, err := q.DeletePreregistration(ctx, pre.ID); err != nil {
			return err
		}
		// The user is created in this transaction: nothing can have
		// changed its password or deactivated it.
		if session, err = s.openSession(ctx, q, row.ID, meta); err != nil {
			return err
		}
		if err := s.audit(ctx, q, row.ID, row.ID, "verify_email", meta, ""); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		if err != nil {
			return err
		}
		user = userFromProfile(p)
		return nil
	})
	if err != nil {
		return User{}, SessionToken{}, err
	}
	if consumed {
		return User{}, SessionToken{}, invalid
	}
	return user, session, nil
}

// emailTaken reports whether an account already uses email.
func emailTaken(ctx context.Context, q *db.Queries, email string) (bool, error) {
	_, err := q.GetUserByEmail(ctx, email)
	if err == nil {
		return true, nil
	}
	if ErrorCode(translate(err)) == CodeNotFound {
		return false, nil
	}
	return false, err
}

// storeToken creates a token of purpose for identifier, bound to a
// registration or a user, and returns it; only its hash is stored.
func (s *Service) storeToken(ctx context.Context, q *db.Queries, identifier, purpose string, ttl time.Duration,
	preregistrationID, userID *string) (string, error) {
	token, _ := newToken()
	err := q.CreateVerificationToken(ctx, db.CreateVerificationTokenParams{
		Identifier: identifier, TokenHash: hashTokenHex(token), Expires: s.now().Add(ttl),
		Purpose: purpose, PreregistrationID: preregistrationID, UserID: userID,
	})
	return token, err
}

// link builds an email link from BASE_URL only, never from request headers.
func (s *Service) link(path, token string) string {
	if token == "" {
		return s.cfg.BaseURL + path
	}
	return s.cfg.BaseURL + path + "?token=" + url.QueryEscape(token)
}

func ptr[T any](v T) *T { return &v }
