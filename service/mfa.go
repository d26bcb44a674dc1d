package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"image/png"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/nextsecure/nextsecure/db"
)

// Two-factor authentication (API.md "Two-factor authentication"): TOTP
// (RFC 6238: SHA-1, 6 digits, 30 s, one step of drift either way) through
// github.com/pquerna/otp, recovery codes, and the mfa token that carries a
// sign-in from its first factor to its second.

const (
	// purposeTOTPSecret is the label under which TOTP secrets are sealed.
	purposeTOTPSecret = "totp-secret"
	// totpIssuer names the service in authenticator apps.
	totpIssuer = "Next Secure"
	// totpPeriod is the length of a TOTP time step, in seconds.
	totpPeriod = 30
	// mfaTokenTTL is how long a sign-in waits for its second factor.
	mfaTokenTTL = 5 * time.Minute
	// mfaMaxFailures wrong codes kill an mfa token.
	mfaMaxFailures = 5
	// recoveryCodeCount recovery codes are issued at a time.
	recoveryCodeCount = 10
)

// totpOpts are the RFC 6238 parameters every code is computed with.
var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// MFARequired is returned, as the error, by a sign-in (Login,
// VerifyMagicLink) whose first factor was right for a user with two-factor
// on: no session is open, and CompleteMFALogin finishes the sign-in with
// Token before ExpiresAt.
type MFARequired struct {
	Token     string
	ExpiresAt time.Time
}

func (*MFARequired) Error() string { return "two-factor authentication required" }

// TOTPSetup is a pending TOTP enrolment, shown once.
type TOTPSetup struct {
	Secret     string // base32
	OTPAuthURL string // otpauth://totp/...
	QRCode     string // data:image/png;base64,...
}

// MFALoginInput is the second step of a sign-in: the mfa token and either
// a TOTP code or a recovery code.
type MFALoginInput struct {
	Token        string
	Code         string
	RecoveryCode string
}

func errInvalidCode() error {
	return Errorf(CodeInvalidCode, "The code is incorrect.")
}

func errMFATokenInvalid() error {
	return Errorf(CodeInvalidToken, "This sign-in has expired or is no longer valid; sign in again.")
}

// totpAD binds a sealed TOTP secret to its user.
func totpAD(userID string) []byte {
	var b []byte
	for _, s := range []string{"user_mfa", userID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func (s *Service) sealTOTP(userID, secret string) (string, error) {
	if s.cfg.Secrets == nil {
		return "", errNoSecrets
	}
	return s.cfg.Secrets.Seal(purposeTOTPSecret, []byte(secret), totpAD(userID))
}

func (s *Service) openTOTP(userID, sealed string) (string, error) {
	if s.cfg.Secrets == nil {
		return "", errNoSecrets
	}
	b, err := s.cfg.Secrets.Open(purposeTOTPSecret, sealed, totpAD(userID))
	return string(b), err
}

// normalizeTOTP strips the spaces people type into a code; ok says it is
// then six digits.
func normalizeTOTP(code string) (string, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return "", false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return code, true
}

// matchTOTP returns the time step, among the one of now and its two
// neighbours, whose code is code. Whether that step may still be used
// (replay) is the caller's question (AcceptTOTPStep).
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	code, ok := normalizeTOTP(code)
	if !ok {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	for _, st := range []int64{step - 1, step, step + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(st*totpPeriod, 0).UTC(), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return st, true
		}
	}
	return 0, false
}

// newRecoveryCode returns a recovery code of 128 random bits, as 32 hex
// digits in four groups.
func newRecoveryCode() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:16] + "-" + h[16:24] + "-" + h[24:32]
}

// hashRecoveryCode is the stored form of a recovery code: SHA-256 of its
// normalised form (lower case, no dashes or spaces). The code carries 128
// random bits, so a fast hash is enough.
func hashRecoveryCode(code string) []byte {
	n := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte("recovery-code:" + n))
	return sum[:]
}

// mfaFingerprint is the credential state an mfa token is bound to: the
// password hash and the two-factor generation. A password reset or change,
// or a two-factor reset or re-enrolment, changes it and kills the token.
func mfaFingerprint(st db.GetMFAStateRow) string {
	var b []byte
	for _, s := range []string{st.PasswordHash, strconv.FormatInt(st.Generation, 10)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// mfaChallenge returns, for a sign-in whose first factor (detail) was right,
// a new mfa token when the user has two-factor on, or nil. The caller holds
// the user's row lock.
func (s *Service) mfaChallenge(ctx context.Context, q *db.Queries, userID, detail string) (*MFARequired, error) {
	st, err := q.GetMFAState(ctx, userID)
	if err != nil {
		return nil, err
	}
	if st.EnabledAt == nil {
		return nil, nil
	}
	token, hash := newToken()
	exp := s.now().Add(mfaTokenTTL)
	if err := q.CreateMFAToken(ctx, db.CreateMFATokenParams{
		TokenHash: hash, UserID: userID, Fingerprint: mfaFingerprint(st), Detail: detail, ExpiresAt: exp,
	}); err != nil {
		return nil, err
	}
	return &MFARequired{Token: token, ExpiresAt: exp}, nil
}

// checkSecondFactor checks a TOTP code or a recovery code for the user of
// st (two-factor on) and uses it up: a TOTP code's step is recorded so it
// and older ones are refused from then on (AcceptTOTPStep, atomic), a
// recovery code is deleted. kind names the factor for the audit trail.
func (s *Service) checkSecondFactor(ctx context.Context, q *db.Queries, st db.GetMFAStateRow,
	code, recovery string) (kind string, ok bool, err error) {
	if recovery != "" {
		n, err := q.UseRecoveryCode(ctx, db.UseRecoveryCodeParams{UserID: st.ID, CodeHash: hashRecoveryCode(recovery)})
		s.meters.mfaResult("recovery_code", err == nil && n == 1)
		return "recovery code", n == 1, err
	}
	if st.Secret == nil {
		return "totp", false, nil
	}
	secret, err := s.openTOTP(st.ID, *st.Secret)
	if err != nil {
		return "totp", false, err
	}
	step, ok := matchTOTP(secret, code, s.now())
	if !ok {
		s.meters.mfaResult("totp", false)
		return "totp", false, nil
	}
	n, err := q.AcceptTOTPStep(ctx, db.AcceptTOTPStepParams{UserID: st.ID, Step: step})
	s.meters.mfaResult("totp", err == nil && n == 1)
	return "totp", n == 1, err
}

// checkCodeOrRecovery is checkSecondFactor for a field that holds either
// kind: six digits are a TOTP code, anything else a recovery code.
func (s *Service) checkCodeOrRecovery(ctx context.Context, q *db.Queries, st db.GetMFAStateRow, code string) (string, bool, error) {
	if _, ok := normalizeTOTP(code); ok || code == "" {
		return s.checkSecondFactor(ctx, q, st, code, "")
	}
	return s.checkSecondFactor(ctx, q, st, "", code)
}

// CompleteMFALogin finishes a sign-in that answered MFARequired, with a
// TOTP code or a recovery code, and opens the session.
//
// The attempt is counted against the account's failed sign-ins before the
// code is checked (as a password), so wrong codes lock the account as wrong
// passwords do; a success lifts the count. The token dies after 5 wrong
// codes, after 5 minutes, and when the credential state it was issued for
// changed (a password reset or change, a two-factor reset). The session
// opens in the transaction that holds the user's row lock
// (LockUserForSignIn), which also serialises two requests with one code:
// exactly one is accepted.
// Errors: CodeInvalidToken, CodeInvalidCode, CodeAccountDisabled,
// CodeRateLimited, CodeUnavailable.
func (s *Service) CompleteMFALogin(ctx context.Context, in MFALoginInput, meta Meta) (User, SessionToken, error) {
	if in.Token == "" {
		return User{}, SessionToken{}, errMFATokenInvalid()
	}
	hash := hashToken(in.Token)
	peek, err := s.q.PeekMFAToken(ctx, db.PeekMFATokenParams{TokenHash: hash, Now: s.now()})
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return User{}, SessionToken{}, errMFATokenInvalid()
		}
		return User{}, SessionToken{}, translate(err)
	}
	key := accountLoginKey(peek.Email)
	if err := s.countLoginAttempt(ctx, key); err != nil {
		return User{}, SessionToken{}, err
	}
	var user User
	var session SessionToken
	var outcome error // an answer that still commits what was used up
	err = s.tx(ctx, func(q *db.Queries) error {
		user, session, outcome = User{}, SessionToken{}, nil
		row, err := q.LockUserForSignIn(ctx, peek.UserID)
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				outcome = errMFATokenInvalid()
				return nil
			}
			return err
		}
		tok, err := q.LockMFAToken(ctx, db.LockMFATokenParams{TokenHash: hash, Now: s.now()})
		if err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				outcome = errMFATokenInvalid()
				return nil
			}
			return err
		}
		st, err := q.GetMFAState(ctx, row.ID)
		if err != nil {
			return err
		}
		if tok.UserID != row.ID || st.EnabledAt == nil || mfaFingerprint(st) != tok.Fingerprint {
			outcome = errMFATokenInvalid()
			_, err := q.DeleteMFAToken(ctx, hash)
			return err
		}
		if !row.IsActive {
			outcome = errAccountDisabled()
			if _, err := q.DeleteMFAToken(ctx, hash); err != nil {
				return err
			}
			return s.audit(ctx, q, row.ID, row.ID, "login_failure", meta, "second factor; account disabled")
		}
		kind, ok, err := s.checkSecondFactor(ctx, q, st, in.Code, in.RecoveryCode)
		if err != nil {
			return err
		}
		if !ok {
			outcome = errInvalidCode()
			n, err := q.CountMFATokenFailure(ctx, hash)
			if err != nil {
				return err
			}
			if n >= mfaMaxFailures {
				if _, err := q.DeleteMFAToken(ctx, hash); err != nil {
					return err
				}
			}
			return s.audit(ctx, q, row.ID, row.ID, "mfa_failure", meta, kind)
		}
		if _, err := q.DeleteMFAToken(ctx, hash); err != nil {
			return err
		}
		if session, err = s.openSession(ctx, q, row.ID, meta); err != nil {
			return err
		}
		if err := q.ResetRateLimit(ctx, key); err != nil {
			return err
		}
		if err := s.audit(ctx, q, row.ID, row.ID, "login_success", meta, kind); err != nil {
			return err
		}
		p, err := q.GetUserProfile(ctx, row.ID)
		user = userFromProfile(p)
		return err
	})
	if err != nil {
		return User{}, SessionToken{}, translate(err)
	}
	if outcome != nil {
		return User{}, SessionToken{}, outcome
	}
	return user, session, nil
}

// BeginTOTP creates (or replaces) the principal's pending TOTP secret and
// returns it with its otpauth URL and QR code. pw must be the current
// password when the user has one (counted first, as a sign-in).
// Errors: CodeInvalidCreds, CodeRateLimited, CodeConflict (two-factor is
// already on), CodeUnauthenticated (the user is gone), CodeUnavailable.
func (s *Service) BeginTOTP(ctx context.Context, p Principal, pw string, meta Meta) (TOTPSetup, error) {
	if _, err := s.reauthenticate(ctx, p, pw, meta); err != nil {
		return TOTPSetup{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: totpIssuer, AccountName: p.User.Email, Period: totpPeriod, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPSetup{}, AsError(err)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		return TOTPSetup{}, AsError(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return TOTPSetup{}, AsError(err)
	}
	sealed, err := s.sealTOTP(p.User.ID, key.Secret())
	if err != nil {
		return TOTPSetup{}, AsError(err)
	}
	err = s.tx(ctx, func(q *db.Queries) error {
		if n, err := q.LockUser(ctx, p.User.ID); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeUnauthenticated, "Sign in first.")
			}
			return err
		}
		n, err := q.SetPendingTOTP(ctx, db.SetPendingTOTPParams{UserID: p.User.ID, PendingSecret: &sealed})
		if err != nil {
			return err
		}
		if n == 0 {
			return Errorf(CodeConflict, "Two-factor authentication is already on.")
		}
		return nil
	})
	if err != nil {
		return TOTPSetup{}, translate(err)
	}
	return TOTPSetup{
		Secret:     key.Secret(),
		OTPAuthURL: key.URL(),
		QRCode:     "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// ConfirmTOTP turns two-factor on with a code of the pending secret, and
// returns 10 new recovery codes (only their hashes are kept). Every other
// session of the user is revoked (the calling one stays). The attempt is
// counted against the account's failed sign-ins first.
// Errors: CodeInvalidCode, CodeConflict (nothing pending), CodeRateLimited,
// CodeUnavailable.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string, meta Meta) ([]string, error) {
	key := accountLoginKey(p.User.Email)
	if err := s.countLoginAttempt(ctx, key); err != nil {
		return nil, err
	}
	var codes []string
	var outcome error
	err := s.tx(ctx, func(q *db.Queries) error {
		codes, outcome = nil, nil
		if n, err := q.LockUser(ctx, p.User.ID); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeUnauthenticated, "Sign in first.")
			}
			return err
		}
		st, err := q.GetMFAState(ctx, p.User.ID)
		if err != nil {
			return err
		}
		if st.EnabledAt != nil || st.PendingSecret == nil {
			return Errorf(CodeConflict, "No two-factor set-up is pending.")
		}
		secret, err := s.openTOTP(p.User.ID, *st.PendingSecret)
		if err != nil {
			return err
		}
		step, ok := matchTOTP(secret, code, s.now())
		if !ok {
			outcome = errInvalidCode()
			return s.audit(ctx, q, p.User.ID, p.User.ID, "mfa_failure", meta, "enrolment")
		}
		now := s.now()
		if n, err := q.EnableTOTP(ctx, db.EnableTOTPParams{
			UserID: p.User.ID, Now: &now, Step: step, PendingSecret: st.PendingSecret,
		}); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeConflict, "No two-factor set-up is pending.")
			}
			return err
		}
		if codes, err = s.replaceRecoveryCodes(ctx, q, p.User.ID); err != nil {
			return err
		}
		if _, err := q.DeleteOtherSessions(ctx, db.DeleteOtherSessionsParams{UserID: p.User.ID, KeepID: p.SessionID}); err != nil {
			return err
		}
		if _, err := q.DeleteMFATokensForUser(ctx, p.User.ID); err != nil {
			return err
		}
		if err := q.ResetRateLimit(ctx, key); err != nil {
			return err
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "mfa_enabled", meta, "totp")
	})
	if err != nil {
		return nil, translate(err)
	}
	if outcome != nil {
		return nil, outcome
	}
	return codes, nil
}

// replaceRecoveryCodes deletes the user's recovery codes and stores the
// hashes of 10 new ones, which it returns.
func (s *Service) replaceRecoveryCodes(ctx context.Context, q *db.Queries, userID string) ([]string, error) {
	if _, err := q.DeleteRecoveryCodes(ctx, userID); err != nil {
		return nil, err
	}
	codes := make([]string, recoveryCodeCount)
	hashes := make([][]byte, recoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = hashRecoveryCode(codes[i])
	}
	return codes, q.CreateRecoveryCodes(ctx, db.CreateRecoveryCodesParams{UserID: userID, CodeHashes: hashes})
}

// withSecondFactor re-authenticates the principal with pw and then code (a
// TOTP code or a recovery code, each counted first against the account's
// failed sign-ins), and runs fn in the transaction that checked the code,
// with the user's row locked. A wrong code is audited and answered
// CodeInvalidCode; CodeConflict when two-factor is off.
func (s *Service) withSecondFactor(ctx context.Context, p Principal, pw, code string, meta Meta,
	fn func(q *db.Queries) error) error {
	if _, err := s.reauthenticate(ctx, p, pw, meta); err != nil {
		return err
	}
	key := accountLoginKey(p.User.Email)
	if err := s.countLoginAttempt(ctx, key); err != nil {
		return err
	}
	var outcome error
	err := s.tx(ctx, func(q *db.Queries) error {
		outcome = nil
		if n, err := q.LockUser(ctx, p.User.ID); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeUnauthenticated, "Sign in first.")
			}
			return err
		}
		st, err := q.GetMFAState(ctx, p.User.ID)
		if err != nil {
			return err
		}
		if st.EnabledAt == nil {
			return Errorf(CodeConflict, "Two-factor authentication is off.")
		}
		kind, ok, err := s.checkCodeOrRecovery(ctx, q, st, code)
		if err != nil {
			return err
		}
		if !ok {
			outcome = errInvalidCode()
			return s.audit(ctx, q, p.User.ID, p.User.ID, "mfa_failure", meta, kind)
		}
		if err := q.ResetRateLimit(ctx, key); err != nil {
			return err
		}
		return fn(q)
	})
	if err != nil {
		return translate(err)
	}
	return outcome
}

// DisableTOTP turns the principal's two-factor off; it needs the password
// (when the user has one) and a current TOTP code or a recovery code. The
// recovery codes and outstanding mfa tokens die.
// Errors: CodeInvalidCreds, CodeInvalidCode, CodeConflict (it is off),
// CodeRateLimited, CodeUnavailable.
func (s *Service) DisableTOTP(ctx context.Context, p Principal, pw, code string, meta Meta) error {
	return s.withSecondFactor(ctx, p, pw, code, meta, func(q *db.Queries) error {
		if err := s.turnOffMFA(ctx, q, p.User.ID); err != nil {
			return err
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "mfa_disabled", meta, "")
	})
}

// RegenerateRecoveryCodes replaces the principal's recovery codes; it needs
// the password (when the user has one) and a current code.
// Errors: as DisableTOTP.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, pw, code string, meta Meta) ([]string, error) {
	var codes []string
	err := s.withSecondFactor(ctx, p, pw, code, meta, func(q *db.Queries) error {
		var err error
		if codes, err = s.replaceRecoveryCodes(ctx, q, p.User.ID); err != nil {
			return err
		}
		return s.audit(ctx, q, p.User.ID, p.User.ID, "recovery_codes_regenerated", meta, "")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// turnOffMFA clears a user's two-factor state, recovery codes and mfa
// tokens; the caller holds the user's row lock.
func (s *Service) turnOffMFA(ctx context.Context, q *db.Queries, userID string) error {
	if _, err := q.DisableMFA(ctx, userID); err != nil {
		return err
	}
	if _, err := q.DeleteRecoveryCodes(ctx, userID); err != nil {
		return err
	}
	_, err := q.DeleteMFATokensForUser(ctx, userID)
	return err
}

// ResetMFA turns two-factor off for the user with id (a lost device), for
// an admin (actorID) or an operator (actorID ""): the secret, recovery codes
// and outstanding mfa tokens die, the owner gets a notice mail, and the
// audit trail keeps an mfa_reset event.
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) ResetMFA(ctx context.Context, actorID, id string, meta Meta) error {
	err := s.txx(ctx, func(tx pgx.Tx, q *db.Queries) error {
		if n, err := q.LockUser(ctx, id); err != nil || n == 0 {
			if err == nil {
				err = Errorf(CodeNotFound, "No user has that id.")
			}
			return err
		}
		st, err := q.GetMFAState(ctx, id)
		if err != nil {
			return err
		}
		if err := s.turnOffMFA(ctx, q, id); err != nil {
			return err
		}
		by := "admin"
		if actorID == "" {
			by = "operator"
		}
		if err := s.audit(ctx, q, id, actorID, "mfa_reset", meta, "by "+by); err != nil {
			return err
		}
		if st.EnabledAt == nil {
			return nil
		}
		return s.enqueue(ctx, tx, mfaResetArgs{To: st.Email})
	})
	return translate(err)
}

// ResetMFAByEmail is ResetMFA for an operator, by the user's email.
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) ResetMFAByEmail(ctx context.Context, email string) (User, error) {
	u, err := s.q.GetUserByEmail(ctx, strings.TrimSpace(email))
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return User{}, Errorf(CodeNotFound, "No user has that email.")
		}
		return User{}, translate(err)
	}
	if err := s.ResetMFA(ctx, "", u.ID, Meta{}); err != nil {
		return User{}, err
	}
	return s.GetUser(ctx, u.ID)
}
