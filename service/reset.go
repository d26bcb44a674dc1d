package service

import (
	"context"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/mail"
)

// ForgotPassword emails a password reset link to the account with this
// email. It answers nil whatever the email (unknown, malformed, pending or an
// account), so it reveals nothing. For an account it voids the user's
// earlier reset tokens, stores a new one bound to the user and queues its
// mail in the same transaction, at most once a minute per address (later
// requests within the minute send nothing and leave the earlier link
// working). A locked (throttled) account can still ask.
// Errors: CodeUnavailable.
func (s *Service) ForgotPassword(ctx context.Context, emailIn string, meta Meta) error {
	email, ok := NormalizeEmail(emailIn)
	if !ok {
		return nil
	}
	return s.tx(ctx, func(q *db.Queries) error {
		user, err := q.GetUserByEmail(ctx, email)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return nil
			}
			return err
		}
		if ok, _, err := s.hit(ctx, q, "mail:reset:"+email, limitMail); err != nil || !ok {
			return err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &user.ID, Purpose: purposeResetPassword,
		}); err != nil {
			return err
		}
		token, err := s.storeToken(ctx, q, email, purposeResetPassword, s.cfg.ResetTTL, nil, &user.ID)
		if err != nil {
			return err
		}
		m, err := mail.ResetPassword(user.Email, s.link("/reset-password", token), s.cfg.ResetTTL)
		if err != nil {
			return err
		}
		if err := s.enqueue(ctx, q, m); err != nil {
			return err
		}
		return s.audit(ctx, q, user.ID, user.ID, "password_reset_requested", meta, "")
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
	return s.tx(ctx, func(q *db.Queries) error {
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
		m, err := mail.PasswordChanged(user.Email)
		if err != nil {
			return err
		}
		return s.enqueue(ctx, q, m)
	})
}
