package service

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/db"
)

// ForgotPassword queues a password reset mail for the account with this
// email. It answers nil whatever the email (unknown, malformed, pending or
// an account), so it reveals nothing, and does the same work for every
// well-formed email: one short transaction that inserts the mail job. The
// job looks the account up when it runs; for an account it voids the
// user's earlier reset tokens, stores a new one bound to the user, records
// the request and sends the link, at most once a minute per address (a
// later request within the minute is delayed, not dropped, and of several
// waiting only the newest is sent). A locked (throttled) account can still
// ask.
// Errors: CodeUnavailable.
func (s *Service) ForgotPassword(ctx context.Context, emailIn string, meta Meta) error {
	email, ok := NormalizeEmail(emailIn)
	if !ok {
		return nil
	}
	args := resetPasswordArgs{Email: email, IP: truncate(meta.IP, 64), UserAgent: truncate(meta.UserAgent, 512)}
	return s.txx(ctx, func(tx pgx.Tx, _ *db.Queries) error {
		return s.enqueue(ctx, tx, args)
	})
}

// ResetPasswordInput is a password reset: the emailed token and the new password.
type ResetPasswordInput struct {
	Token    string
	Password string
}

// ResetPassword consumes a reset token and sets the user's password (a user
// who had none, signed up through a provider, gets one). The password
// policy is checked first, so a CodeValidation leaves the token unused. In
// one transaction it then consumes the token atomically, sets the
// credential, revokes every session of the user, voids the user's other
// reset tokens, lifts the failed-sign-in throttle of the account, and queues
// a notice that the password changed.
// Errors: CodeValidation, CodeInvalidToken (unknown, used, expired or of
// another purpose), CodeUnavailable.
func (s *Service) ResetPassword(ctx context.Context, in ResetPasswordInput, meta Meta) error {
	inputs, err := s.resetUserInputs(ctx, in.Token)
	if err != nil {
		return err
	}
	if err := validation(passwordField("password", in.Password, inputs...)); err != nil {
		return err
	}
	invalid := Errorf(CodeInvalidToken, "This link is invalid or has expired.")
	if in.Token == "" || len(in.Token) > 128 {
		return invalid
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return err
	}
	return s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		now := s.now()
		tok, err := q.ConsumeVerificationToken(ctx, db.ConsumeVerificationTokenParams{
			TokenHash: hashTokenHex(in.Token), Purpose: purposeResetPassword, Now: now,
		})
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if tok.UserID == nil {
			return invalid
		}
		user, err := q.GetUser(ctx, *tok.UserID)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if err := q.UpsertCredential(ctx, db.UpsertCredentialParams{
			ID: newID(now), UserID: user.ID, PasswordHash: hash,
		}); err != nil {
			return err
		}
		// The user's row lock before the sessions go: a sign-in opening a
		// session under it (a magic link, a provider) finishes first and
		// its session goes too (LockUser).
		if _, err := q.LockUser(ctx, user.ID); err != nil {
			return err
		}
		if _, err := q.DeleteSessionsByUser(ctx, user.ID); err != nil {
			return err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &user.ID, Purpose: purposeResetPassword,
		}); err != nil {
			return err
		}
		if err := q.ResetRateLimit(ctx, accountLoginKey(user.Email)); err != nil {
			return err
		}
		if err := s.audit(ctx, q, user.ID, user.ID, "password_reset", meta, ""); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, passwordChangedArgs{To: user.Email})
	})
}
