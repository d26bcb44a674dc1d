package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/mail"
)

// purposeChangeEmail is the purpose of an email change confirmation's
// token: bound to the user, its identifier the new address it confirms.
const purposeChangeEmail = "change_email"

// Job kinds of the email change.
const (
	kindChangeEmail        = "change_email"
	kindEmailChangeAsked   = "email_change_requested_notice"
	kindEmailChangedNotice = "email_changed_notice"
)

// changeEmailArgs asks for the confirmation mail of a change of UserID's
// address to Email (normalised); the job issues the token when it sends.
type changeEmailArgs struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
}

func (changeEmailArgs) Kind() string { return kindChangeEmail }

// emailChangeAskedArgs is the notice to an account's current address that
// a change to NewEmail was asked for; it carries no token.
type emailChangeAskedArgs struct {
	To       string `json:"to"`
	NewEmail string `json:"newEmail"`
}

func (emailChangeAskedArgs) Kind() string { return kindEmailChangeAsked }

// emailChangedArgs is the notice to an account's former address that its
// address is now NewEmail.
type emailChangedArgs struct {
	To       string `json:"to"`
	NewEmail string `json:"newEmail"`
}

func (emailChangedArgs) Kind() string { return kindEmailChangedNotice }

// addEmailChangeWorkers registers the workers of the email change's mails.
func (s *Service) addEmailChangeWorkers(workers *river.Workers, sender mail.Sender) {
	river.AddWorker(workers, &mailWorker[changeEmailArgs]{s: s, sender: sender, prepare: s.prepareEmailChange})
	river.AddWorker(workers, &mailWorker[emailChangeAskedArgs]{s: s, sender: sender,
		prepare: func(_ context.Context, job *river.Job[emailChangeAskedArgs]) (*mail.Message, error) {
			m, err := mail.EmailChangeRequested(job.Args.To, job.Args.NewEmail)
			return &m, err
		}})
	river.AddWorker(workers, &mailWorker[emailChangedArgs]{s: s, sender: sender,
		prepare: func(_ context.Context, job *river.Job[emailChangedArgs]) (*mail.Message, error) {
			m, err := mail.EmailChanged(job.Args.To, job.Args.NewEmail)
			return &m, err
		}})
	river.AddWorker(workers, &mailWorker[magicLinkArgs]{s: s, sender: sender, prepare: s.prepareMagicLink})
}

// ChangeEmailInput is a request by the signed-in user to change their
// email address.
type ChangeEmailInput struct {
	Email string
	// Password is required when the user has one and ignored when they
	// have none.
	Password string
}

// errEmailUnchanged is the validation failure of a change to the current address.
var errEmailUnchanged = &FieldError{Field: "email", Code: "unchanged", Message: "That is already your email address."}

// RequestEmailChange starts a change of the principal's email address. The
// address is checked first (CodeValidation for an invalid one or the
// current one), then the password as a re-authentication (counted against
// the account's failed sign-ins before it is checked). Then, in one
// transaction under the locks of both addresses, it voids the user's
// earlier change tokens and queues two mails: the confirmation for the new
// address and a notice to the current one (so a stolen session cannot
// quietly take the account). The answer and the work are the same whether
// or not the new address has an account: the confirmation job looks it up
// when it runs, and for an address with an account sends that address an
// account-exists notice instead of a link, and nothing changes.
// Errors: CodeValidation, CodeInvalidCreds, CodeRateLimited, CodeUnavailable.
func (s *Service) RequestEmailChange(ctx context.Context, p Principal, in ChangeEmailInput, meta Meta) error {
	email, ferr := emailField(in.Email)
	if ferr == nil {
		if cur, ok := NormalizeEmail(p.User.Email); ok && cur == email {
			ferr = errEmailUnchanged
		}
	}
	if err := validation(ferr); err != nil {
		return err
	}
	if _, err := s.reauthenticate(ctx, p, in.Password, meta); err != nil {
		return err
	}
	return s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if err := lockEmails(ctx, q, email, p.User.Email); err != nil {
			return err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &p.User.ID, Purpose: purposeChangeEmail,
		}); err != nil {
			return err
		}
		if err := s.audit(ctx, q, p.User.ID, p.User.ID, "email_change_requested", meta, "to "+email); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, changeEmailArgs{UserID: p.User.ID, Email: email}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, emailChangeAskedArgs{To: p.User.Email, NewEmail: email})
	})
}

// lockEmails takes the locks of two addresses (LockEmail) in a fixed
// order, so two workflows locking the same pair cannot deadlock.
func lockEmails(ctx context.Context, q *db.Queries, a, b string) error {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if b < a {
		a, b = b, a
	}
	if err := q.LockEmail(ctx, a); err != nil {
		return err
	}
	if a == b {
		return nil
	}
	return q.LockEmail(ctx, b)
}

// errEmailMoved makes River run a change job again: the user's address
// changed between reading it and locking it.
var errEmailMoved = errors.New("the user's email changed while the job ran; retrying")

// prepareEmailChange issues the confirmation mail of the job's change, in
// one transaction under the locks of the user's current and new addresses:
// nothing when the user is gone or deactivated, already has that address,
// or a newer change job of the user will send (the newest request wins);
// an account-exists notice to the new address (at most one an hour) when
// it has an account; a wait when a confirmation went to the address less
// than a minute ago. Otherwise it voids the user's earlier change tokens,
// stores the new token's hash (identifier the new address, bound to the
// user) and returns the mail carrying the token.
func (s *Service) prepareEmailChange(ctx context.Context, job *river.Job[changeEmailArgs]) (*mail.Message, error) {
	newEmail := job.Args.Email
	var m *mail.Message
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		before, err := q.GetUser(ctx, job.Args.UserID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if err := lockEmails(ctx, q, newEmail, before.Email); err != nil {
			return err
		}
		user, err := q.GetUser(ctx, job.Args.UserID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		if user.Email != before.Email {
			return errEmailMoved
		}
		if newer, err := newerJobFor(ctx, tx, job.JobRow, map[string]string{"userId": user.ID}); err != nil || newer {
			return err
		}
		if strings.EqualFold(user.Email, newEmail) || !user.IsActive {
			return nil
		}
		taken, err := emailTaken(ctx, q, newEmail)
		if err != nil {
			return err
		}
		if taken {
			if ok, _, err := s.hit(ctx, q, "mail:notice:"+newEmail, limitNotice); err != nil || !ok {
				return err
			}
			msg, err := mail.EmailInUse(newEmail, s.link("/reset-password", ""))
			m = &msg
			return err
		}
		if err := s.mailAllowed(ctx, q, "mail:change:"+newEmail); err != nil {
			return err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &user.ID, Purpose: purposeChangeEmail,
		}); err != nil {
			return err
		}
		token, err := s.storeToken(ctx, q, newEmail, purposeChangeEmail, s.cfg.VerifyTTL, nil, &user.ID)
		if err != nil {
			return err
		}
		name := ""
		if user.Name != nil {
			name = *user.Name
		}
		msg, err := mail.ConfirmEmailChange(newEmail, name, s.link("/confirm-email", token), s.cfg.VerifyTTL)
		m = &msg
		return err
	})
	return m, err
}

// ConfirmEmailChange consumes an email change token and moves its user to
// the new address, verified now. In one transaction it locks the current
// and the new address (LockEmail, in a fixed order: registration, sign-in
// links and resets of either address wait), consumes the token atomically
// (of many concurrent calls with one token, one succeeds), and then, unless
// the new address has an account by now (CodeConflict; the unique index
// decides, and nothing is written, the token included): sets the email and
// emailVerified, deletes a pending registration for the new address with
// its tokens, voids every other token of the user (links sent to the old
// address: sign-in, reset, other changes), carries the failed sign-in count
// of the old address over to the new one (so a change never lifts a lock,
// nor gives a guesser a fresh count), records email_changed with both
// addresses and queues a notice to the old address. Sessions stay.
//
// A deactivated user's token is consumed and answers CodeInvalidToken.
// Errors: CodeInvalidToken (unknown, used, expired, of another purpose, or
// its user gone or deactivated), CodeConflict, CodeUnavailable.
func (s *Service) ConfirmEmailChange(ctx context.Context, token string, meta Meta) (User, error) {
	invalid := Errorf(CodeInvalidToken, "This link is invalid or has expired.")
	if token == "" || len(token) > 128 {
		return User{}, invalid
	}
	var user User
	var outcome error // an answer that still commits the token's use
	err := s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		user, outcome = User{}, nil
		now := s.now()
		target, err := q.GetChangeEmailTarget(ctx, db.GetChangeEmailTargetParams{
			TokenHash: hashTokenHex(token), Now: now,
		})
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if err := lockEmails(ctx, q, target.NewEmail, target.CurrentEmail); err != nil {
			return err
		}
		tok, err := q.ConsumeVerificationToken(ctx, db.ConsumeVerificationTokenParams{
			TokenHash: hashTokenHex(token), Purpose: purposeChangeEmail, Now: now,
		})
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid // consumed or voided while we waited for the locks
			}
			return err
		}
		row, err := q.LockUserForSignIn(ctx, target.UserID)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if tok.UserID == nil || *tok.UserID != row.ID || row.Email != target.CurrentEmail {
			// The address changed between reading and locking it: a
			// change voids the user's tokens, so this cannot hold one.
			return invalid
		}
		if !row.IsActive {
			outcome = invalid
			return nil
		}
		newEmail, oldEmail := tok.Identifier, row.Email
		taken := Errorf(CodeConflict, "That email address is already in use.")
		if t, err := emailTaken(ctx, q, newEmail); err != nil || t {
			if err == nil {
				err = taken
			}
			return err
		}
		if _, err := q.ChangeUserEmail(ctx, db.ChangeUserEmailParams{ID: row.ID, Email: newEmail, Now: &now}); err != nil {
			if ErrorCode(translate(err)) == CodeConflict {
				return taken
			}
			return err
		}
		if _, err := q.DeletePreregistrationByEmail(ctx, newEmail); err != nil {
			return err
		}
		if _, err := q.DeleteVerifyTokensForEmail(ctx, newEmail); err != nil {
			return err
		}
		if _, err := q.DeleteAllTokensForUser(ctx, &row.ID); err != nil {
			return err
		}
		if err := q.CarryRateLimit(ctx, db.CarryRateLimitParams{
			FromKey: accountLoginKey(oldEmail), ToKey: failedLoginKey(newEmail),
			WindowFloor: now.Add(-limitFailedLogins.Window),
		}); err != nil {
			return err
		}
		if err := s.audit(ctx, q, row.ID, row.ID, "email_changed", meta,
			fmt.Sprintf("from %s to %s", oldEmail, newEmail)); err != nil {
			return err
		}
		if err := s.enqueue(ctx, tx, emailChangedArgs{To: oldEmail, NewEmail: newEmail}); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		user = userFromProfile(p)
		return err
	})
	if err != nil {
		return User{}, err
	}
	if outcome != nil {
		return User{}, outcome
	}
	return user, nil
}
