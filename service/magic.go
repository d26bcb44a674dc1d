package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/mail"
)

// purposeMagicLink is the purpose of a magic sign-in link's token: bound
// to the user, its identifier the address it was sent to.
const purposeMagicLink = "magic_link"

// kindMagicLink is the job kind of a magic sign-in link mail.
const kindMagicLink = "magic_link"

// defaultMagicLinkTTL is MAGIC_LINK_TTL's default.
const defaultMagicLinkTTL = 15 * time.Minute

// magicLinkArgs asks for a sign-in link to the account of Email
// (normalised), if it is an active one when the job runs. IP and UserAgent
// are the request's, for the audit trail.
type magicLinkArgs struct {
	Email     string `json:"email"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

func (magicLinkArgs) Kind() string { return kindMagicLink }

func (s *Service) magicLinkTTL() time.Duration {
	return orDefault(s.cfg.MagicLinkTTL, defaultMagicLinkTTL)
}

// RequestMagicLink queues a sign-in link mail for the account with this
// email. Like ForgotPassword it answers nil whatever the email (unknown,
// malformed, pending, deactivated or active), and does the same work for
// every well-formed email: one short transaction that inserts the mail job.
// The job looks the account up when it runs and sends a link only to an
// active account, at most one a minute per address (a later request within
// the minute is delayed, not dropped, and of several waiting only the
// newest is sent). A pending registration gets nothing: a magic link never
// creates an account.
// Errors: CodeUnavailable.
func (s *Service) RequestMagicLink(ctx context.Context, emailIn string, meta Meta) error {
	email, ok := NormalizeEmail(emailIn)
	if !ok {
		return nil
	}
	args := magicLinkArgs{Email: email, IP: truncate(meta.IP, 64), UserAgent: truncate(meta.UserAgent, 512)}
	return s.txx(ctx, func(tx pgx.Tx, _ *db.Queries) error {
		return s.enqueue(ctx, tx, args)
	})
}

// prepareMagicLink issues the sign-in link for the account of the job's
// email, in one transaction under the email's lock: nothing when there is
// no account, it is deactivated, or a newer job for the address will send
// it; a wait when a sign-in mail went to the address less than a minute
// ago. Otherwise it voids the user's earlier sign-in links, stores the new
// token's hash, records the request and returns the mail carrying the token.
func (s *Service) prepareMagicLink(ctx context.Context, job *river.Job[magicLinkArgs]) (*mail.Message, error) {
	email := job.Args.Email
	return s.mailJobTx(ctx, job.JobRow, email, func(q *db.Queries) (*mail.Message, error) {
		user, err := q.GetUserByEmail(ctx, email)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if !user.IsActive {
			return nil, nil
		}
		if err := s.mailAllowed(ctx, q, "mail:magic:"+email); err != nil {
			return nil, err
		}
		if _, err := q.DeleteTokensForUser(ctx, db.DeleteTokensForUserParams{
			UserID: &user.ID, Purpose: purposeMagicLink,
		}); err != nil {
			return nil, err
		}
		token, err := s.storeToken(ctx, q, user.Email, purposeMagicLink, s.magicLinkTTL(), nil, &user.ID)
		if err != nil {
			return nil, err
		}
		meta := Meta{IP: job.Args.IP, UserAgent: job.Args.UserAgent}
		if err := s.audit(ctx, q, user.ID, user.ID, "magic_link_requested", meta, ""); err != nil {
			return nil, err
		}
		msg, err := mail.MagicLink(user.Email, s.link("/magic-link", token), s.magicLinkTTL())
		return &msg, err
	})
}

// VerifyMagicLink consumes a sign-in link's token and signs its user in.
// In one transaction it locks the token's email (LockEmail, the order of
// every workflow), consumes the token atomically (of many concurrent calls
// with one token, one succeeds), locks the user row (LockUserForSignIn: the
// session rule, so a deactivation or deletion committing meanwhile is seen
// or revokes the session after), sets emailVerified when it was null (the
// person just proved the address), opens a session and records
// login_success ("magic link").
//
// It checks no password, so it works while the account's password sign-in
// is locked by failed attempts, and it leaves that count as it is (the
// guesses it counts may still be going on; only a sign-in with the
// password or a reset lifts it). It never creates an account and never
// touches a credential: a pending registration's password is never
// attached.
//
// A deactivated account's token is consumed (it is single-use whatever the
// outcome, so it cannot wait for a reactivation) and the answer is
// CodeAccountDisabled.
// A user with two-factor on gets no session: the error is then an
// *MFARequired carrying the mfa token (CompleteMFALogin).
// Errors: CodeInvalidToken (unknown, used, expired, of another purpose,
// its user gone or no longer at the address it was sent to),
// CodeAccountDisabled, CodeUnavailable.
func (s *Service) VerifyMagicLink(ctx context.Context, token string, meta Meta) (User, SessionToken, error) {
	invalid := Errorf(CodeInvalidToken, "This link is invalid or has expired.")
	if token == "" || len(token) > 128 {
		return User{}, SessionToken{}, invalid
	}
	var user User
	var session SessionToken
	var outcome error // an answer that still commits the token's use
	err := s.tx(ctx, func(q *db.Queries) error {
		user, session, outcome = User{}, SessionToken{}, nil
		now := s.now()
		tok, err := consumeTokenLocked(ctx, q, token, purposeMagicLink, now)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return invalid
			}
			return err
		}
		if tok.UserID == nil {
			outcome = invalid
			return nil
		}
		row, err := q.LockUserForSignIn(ctx, *tok.UserID)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				outcome = invalid
				return nil
			}
			return err
		}
		if !strings.EqualFold(row.Email, tok.Identifier) {
			// The account moved to another address since the link was sent.
			outcome = invalid
			return nil
		}
		if !row.IsActive {
			outcome = errAccountDisabled()
			return s.audit(ctx, q, row.ID, row.ID, "login_failure", meta, "magic link; account disabled")
		}
		if row.EmailVerified == nil {
			if _, err := q.SetEmailVerified(ctx, db.SetEmailVerifiedParams{ID: row.ID, Now: &now}); err != nil {
				return err
			}
		}
		// A user with two-factor on gets the mfaRequired step instead of
		// a session, as after a password; the link is used up all the same.
		challenge, err := s.mfaChallenge(ctx, q, row.ID, "magic link")
		if err != nil {
			return err
		}
		if challenge != nil {
			outcome = challenge
			return nil
		}
		if session, err = s.openSession(ctx, q, row.ID, meta); err != nil {
			return err
		}
		if err := s.audit(ctx, q, row.ID, row.ID, "login_success", meta, "magic link"); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		user = userFromProfile(p)
		return err
	})
	if err != nil {
		return User{}, SessionToken{}, err
	}
	if outcome != nil {
		return User{}, SessionToken{}, outcome
	}
	return user, session, nil
}

// newerJobFor reports whether a job of job's kind whose args contain match
// was inserted after job and is still in the table (whatever its state):
// that one sends, or sent, the current mail, so this one sends nothing.
func newerJobFor(ctx context.Context, tx pgx.Tx, job *rivertype.JobRow, match map[string]string) (bool, error) {
	b, err := json.Marshal(match)
	if err != nil {
		return false, err
	}
	var newer bool
	err = tx.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1 AND id > $2 AND args @> $3::jsonb)",
		job.Kind, job.ID, string(b)).Scan(&newer)
	return newer, err
}
