package service

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/nextsecure/nextsecure/db"
)

// The codes a provider callback redirects with ({BASE_URL}/login?error=CODE).
// They never appear in a problem body: a callback always redirects.
const (
	CodeOAuthFailed           Code = "oauth_failed"
	CodeOAuthDenied           Code = "oauth_denied"
	CodeOAuthAccountTaken     Code = "oauth_account_taken"
	CodeOAuthAlreadyLinked    Code = "oauth_already_linked"
	CodeOAuthAccountNotLinked Code = "oauth_account_not_linked"
	CodeOAuthEmailUnverified  Code = "oauth_email_unverified"
)

// oauthFlowTTL is how long a started flow can be finished.
const oauthFlowTTL = 10 * time.Minute

// OAuthFlowTTL is how long a started sign-in flow can be finished, for the
// lifetime of the cookie that binds it to the browser.
const OAuthFlowTTL = oauthFlowTTL

// purposeOAuthVerifier is the label under which PKCE verifiers are sealed.
const purposeOAuthVerifier = "oauth-verifier"

// maxRedirectPath bounds redirectTo.
const maxRedirectPath = 2048

// RedirectPath checks a redirectTo: a path on BASE_URL and nothing else.
// "" means "/". It must start with exactly one '/' (not "//" nor "/\",
// which browsers read as another host), carry no backslash, white space or
// control character (browsers drop tabs and line breaks, so "/\t/evil" is
// "//evil" to them), and be at most 2048 bytes of valid UTF-8. Query and
// fragment are allowed.
func RedirectPath(s string) (string, bool) {
	if s == "" {
		return "/", true
	}
	if len(s) > maxRedirectPath || !utf8.ValidString(s) || s[0] != '/' ||
		(len(s) > 1 && (s[1] == '/' || s[1] == '\\')) {
		return "", false
	}
	for _, r := range s {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "", false
	}
	return s, true
}

// OAuthStart is a started flow: the provider's authorization URL, and the
// secret for the browser's flow cookie (its hash is stored with the flow).
type OAuthStart struct {
	URL     string
	Binding string
}

// StartOAuth starts a sign-in with provider: it stores a flow (state, PKCE
// verifier, nonce, redirectTo) for 10 minutes and returns the provider's
// authorization URL and the browser-binding secret.
// Errors: CodeNotFound (no such provider), CodeValidation (redirectTo),
// CodeUnavailable (an OIDC provider not discovered yet).
func (s *Service) StartOAuth(ctx context.Context, providerID, redirectTo string) (OAuthStart, error) {
	if _, _, err := s.provider(ctx, providerID); err != nil {
		return OAuthStart{}, err
	}
	path, ok := RedirectPath(redirectTo)
	if !ok {
		return OAuthStart{}, validation(&FieldError{Field: "redirectTo", Code: "invalid",
			Message: "Use a path on this site, starting with a single /."})
	}
	return s.startFlow(ctx, providerID, path, nil, nil)
}

// StartLink starts a flow that links provider to the principal's user; it
// finishes at /account. The flow is tied to the principal's session: it
// dies with it, and its callback links only while the session is live.
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) StartLink(ctx context.Context, p Principal, providerID string) (OAuthStart, error) {
	if _, _, err := s.provider(ctx, providerID); err != nil {
		return OAuthStart{}, err
	}
	return s.startFlow(ctx, providerID, "/account", &p.User.ID, &p.SessionID)
}

func (s *Service) startFlow(ctx context.Context, providerID, redirectTo string, linkUserID, linkSessionID *string) (OAuthStart, error) {
	p, oc, err := s.provider(ctx, providerID)
	if err != nil {
		return OAuthStart{}, err
	}
	if s.cfg.Secrets == nil {
		return OAuthStart{}, AsError(errNoSecrets)
	}
	now := s.now()
	state, stateHash := newToken()
	binding, bindingHash := newToken()
	verifier := oauth2.GenerateVerifier()
	// The verifier is sealed, bound to this flow's row: whoever reads the
	// database and catches a code still cannot exchange it.
	sealed, err := s.cfg.Secrets.Seal(purposeOAuthVerifier, []byte(verifier), stateHash)
	if err != nil {
		return OAuthStart{}, AsError(err)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	nonce := ""
	if p.cfg.Type == ProviderTypeOIDC {
		nonce, _ = newToken()
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	err = s.q.CreateOAuthFlow(ctx, db.CreateOAuthFlowParams{
		ID: stateHash, BindingHash: bindingHash, Provider: providerID, Verifier: sealed, Nonce: nonce,
		RedirectTo: redirectTo, LinkUserID: linkUserID, LinkSessionID: linkSessionID, Now: now, ExpiresAt: now.Add(oauthFlowTTL),
	})
	if err != nil {
		return OAuthStart{}, translate(err)
	}
	return OAuthStart{URL: oc.AuthCodeURL(state, opts...), Binding: binding}, nil
}

// OAuthCallback is what a provider's redirect brings back to the callback.
type OAuthCallback struct {
	Code  string
	State string
	// Error is the provider's error parameter (access_denied when the
	// user refused).
	Error string
	// Binding is the secret of the browser's flow cookie ("" if none).
	Binding string
}

// OAuthResult is a finished provider sign-in.
type OAuthResult struct {
	User       User
	Session    SessionToken
	RedirectTo string
	// MFA, when set, means the user has two-factor on: no session was
	// opened, and the sign-in finishes with CompleteMFALogin.
	MFA *MFARequired
}

// OAuthError is a failed callback: Code is one of the callback codes (or
// CodeAccountDisabled, CodeUnavailable) and Reason says why, for the log
// only (never a token). FlowConsumed says that the callback used up the
// flow bound to the browser's cookie (so the cookie is of no more use);
// a callback with an unknown state or another browser's leaves it.
type OAuthError struct {
	Code         Code
	Reason       string
	FlowConsumed bool
	err          error
}

func (e *OAuthError) Error() string { return string(e.Code) + ": " + e.Reason }

func (e *OAuthError) Unwrap() error { return e.err }

// FlowConsumed reports whether a failed FinishOAuth used up the browser's
// flow (a successful one always does).
func FlowConsumed(err error) bool {
	var oe *OAuthError
	return errors.As(err, &oe) && oe.FlowConsumed
}

// consumedErr marks err, a failure after the flow was consumed, as such.
func consumedErr(err error) error {
	var oe *OAuthError
	if errors.As(err, &oe) {
		oe.FlowConsumed = true
		return oe
	}
	return &OAuthError{Code: CallbackCode(err), Reason: err.Error(), FlowConsumed: true, err: err}
}

func oauthErr(code Code, format string, args ...any) error {
	return &OAuthError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// CallbackCode returns the code a callback failure redirects with.
func CallbackCode(err error) Code {
	var oe *OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	if c := ErrorCode(err); c == CodeUnavailable || c == CodeAccountDisabled {
		return c
	}
	return CodeOAuthFailed
}

// FinishOAuth finishes a provider flow at its callback: it consumes the
// flow named by the state (once, within 10 minutes, from the browser that
// started it), exchanges the code with the PKCE verifier, reads the
// identity (verifying an OIDC ID token: signature, issuer, audience,
// expiry, nonce), then finds or creates the user by API.md's linking rules
// and opens a session, in one transaction.
// Errors: an *OAuthError (CallbackCode tells its code), or CodeUnavailable.
func (s *Service) FinishOAuth(ctx context.Context, providerID string, cb OAuthCallback, meta Meta) (OAuthResult, error) {
	p, oc, err := s.provider(ctx, providerID)
	if err != nil {
		if ErrorCode(err) == CodeNotFound {
			return OAuthResult{}, oauthErr(CodeOAuthFailed, "unknown provider")
		}
		return OAuthResult{}, err
	}
	if cb.State == "" || len(cb.State) > 128 {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "missing or malformed state")
	}
	if cb.Binding == "" || len(cb.Binding) > 128 {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "flow cookie missing or malformed")
	}
	// Only the browser that started the flow consumes it: a callback with
	// its state from anywhere else leaves the flow to that browser.
	flow, err := s.q.ConsumeOAuthFlow(ctx, db.ConsumeOAuthFlowParams{
		ID: hashToken(cb.State), BindingHash: hashToken(cb.Binding), Now: s.now(),
	})
	if err != nil {
		if ErrorCode(translate(err)) == CodeNotFound {
			return OAuthResult{}, oauthErr(CodeOAuthFailed,
				"unknown, expired or used state, or the flow cookie is not the one that started it")
		}
		return OAuthResult{}, translate(err)
	}
	res, err := s.finishFlow(ctx, p, oc, providerID, flow, cb, meta)
	if err != nil {
		return OAuthResult{}, consumedErr(err)
	}
	return res, nil
}

// finishFlow is FinishOAuth once the flow is consumed.
func (s *Service) finishFlow(ctx context.Context, p *provider, oc *oauth2.Config, providerID string,
	flow db.OauthFlow, cb OAuthCallback, meta Meta) (OAuthResult, error) {
	if flow.Provider != providerID {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "state of a flow with another provider")
	}
	if cb.Error != "" {
		if cb.Error == "access_denied" {
			return OAuthResult{}, oauthErr(CodeOAuthDenied, "the user refused at the provider")
		}
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "provider error %.64q", cb.Error)
	}
	if cb.Code == "" || len(cb.Code) > 2048 {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "missing or malformed code")
	}
	if s.cfg.Secrets == nil {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "Config.Secrets is not set")
	}
	verifier, err := s.cfg.Secrets.Open(purposeOAuthVerifier, flow.Verifier, flow.ID)
	if err != nil {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "flow verifier does not open: %v", err)
	}
	pctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, p.client), 2*p.client.Timeout)
	defer cancel()
	tok, err := oc.Exchange(pctx, cb.Code, oauth2.VerifierOption(string(verifier)))
	if err != nil {
		return OAuthResult{}, oauthErr(CodeOAuthFailed, "code exchange: %s", exchangeReason(err))
	}
	var id identity
	if p.cfg.Type == ProviderTypeOIDC {
		id, err = s.oidcIdentity(pctx, p, tok, flow.Nonce)
	} else {
		id, err = githubIdentity(pctx, p, tok)
	}
	if err != nil {
		return OAuthResult{}, err
	}
	return s.signInWithProvider(ctx, p, flow, id, tok, meta)
}

// exchangeReason describes a failed exchange without the provider's body
// (which may echo what was sent).
func exchangeReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.ErrorCode != "" {
			return fmt.Sprintf("status %d, error %.64q", re.Response.StatusCode, re.ErrorCode)
		}
		return fmt.Sprintf("status %d", re.Response.StatusCode)
	}
	return truncate(err.Error(), 200)
}

// identity is who the provider says the user is.
type identity struct {
	AccountID     string // GitHub's numeric id, or the OIDC sub
	Email         string // "" when the provider gave none
	EmailVerified bool
	Name          string
	Image         string
	IDToken       string // the raw ID token (OIDC), to store sealed
}

// signInWithProvider applies the linking rules (API.md) and opens a
// session, in one transaction: the email lock first (when the provider's
// email may create or link a user), then the user's login methods, then
// rows; the session is opened only with the user row locked and active.
func (s *Service) signInWithProvider(ctx context.Context, p *provider, flow db.OauthFlow, id identity,
	tok *oauth2.Token, meta Meta) (OAuthResult, error) {
	provider := p.cfg.ID
	email := ""
	if id.EmailVerified {
		if e, ok := NormalizeEmail(id.Email); ok {
			email = e
		}
	}
	redirectTo := flow.RedirectTo
	var res OAuthResult
	err := s.tx(ctx, func(q *db.Queries) error {
		now := s.now()
		if email != "" {
			if err := q.LockEmail(ctx, email); err != nil {
				return err
			}
		}
		var userID string
		var created, linked bool
		acct, err := q.GetAccount(ctx, db.GetAccountParams{Provider: provider, ProviderAccountID: id.AccountID})
		exists := err == nil
		if err != nil && ErrorCode(translate(err)) != CodeNotFound {
			return err
		}
		switch {
		case flow.LinkUserID != nil:
			// Rule 2: link to the user who started the flow.
			userID = *flow.LinkUserID
			if exists && acct.UserID != userID {
				return oauthErr(CodeOAuthAccountTaken, "provider account belongs to another user")
			}
			if err := q.LockLoginMethods(ctx, userID); err != nil {
				return err
			}
			if _, err := q.LockActiveUser(ctx, userID); err != nil {
				if ErrorCode(translate(err)) == CodeNotFound {
					return oauthErr(CodeAccountDisabled, "linking user deleted or deactivated")
				}
				return err
			}
			// The session that started the link must still be live (after
			// the user row, the order a deactivation takes them in).
			if flow.LinkSessionID == nil {
				return oauthErr(CodeOAuthFailed, "link flow without its session")
			}
			if _, err := q.LockLinkSession(ctx, db.LockLinkSessionParams{ID: *flow.LinkSessionID, Now: now}); err != nil {
				if ErrorCode(translate(err)) == CodeNotFound {
					return oauthErr(CodeOAuthFailed, "the session that started the link has ended")
				}
				return err
			}
			if !exists {
				accts, err := q.ListAccountsByUser(ctx, userID)
				if err != nil {
					return err
				}
				for _, a := range accts {
					if a.Provider == provider {
						return oauthErr(CodeOAuthAlreadyLinked, "user has another account of this provider")
					}
				}
				linked = true
			}
		case exists:
			// Rule 1: a linked account signs its user in.
			userID = acct.UserID
		case email == "":
			return oauthErr(CodeOAuthEmailUnverified, "provider gave no verified email (email %t, verified %t)",
				id.Email != "", id.EmailVerified)
		default:
			u, err := q.GetUserByEmail(ctx, email)
			switch {
			case err == nil:
				// Rule 3: the same verified email, verified here too.
				if u.EmailVerified == nil {
					return oauthErr(CodeOAuthAccountNotLinked, "a user with this email exists but has not verified it")
				}
				userID, linked = u.ID, true
				if err := q.LockLoginMethods(ctx, userID); err != nil {
					return err
				}
			case ErrorCode(translate(err)) == CodeNotFound:
				// Rule 4: a new user. A pending registration for this
				// email dies: its password is never attached.
				row, err := q.CreateUser(ctx, db.CreateUserParams{
					ID: newID(now), Name: providerName(id.Name), Email: email,
					EmailVerified: &now, Image: imageOrNil(id.Image), IsActive: true, Role: RoleUser,
				})
				if err != nil {
					return err
				}
				if _, err := q.DeletePreregistrationByEmail(ctx, email); err != nil {
					return err
				}
				userID, created, linked = row.ID, true, true
			default:
				return err
			}
		}
		if _, err := q.LockActiveUser(ctx, userID); err != nil {
			if ErrorCode(translate(err)) == CodeNotFound {
				return oauthErr(CodeAccountDisabled, "user deactivated or deleted")
			}
			return err
		}
		if err := s.storeProviderTokens(ctx, q, p, id, tok, userID, exists); err != nil {
			return err
		}
		detail := "provider " + provider
		if created {
			if err := s.audit(ctx, q, userID, userID, "user_created_by_provider", meta, detail); err != nil {
				return err
			}
		}
		if linked {
			if err := s.audit(ctx, q, userID, userID, "account_linked", meta, detail); err != nil {
				return err
			}
		}
		if flow.LinkUserID == nil {
			// A sign-in (not a link by a signed-in user) of a user with
			// two-factor on gets an mfa token instead of a session.
			if res.MFA, err = s.mfaChallenge(ctx, q, userID, detail); err != nil {
				return err
			}
			if res.MFA != nil {
				return nil
			}
		}
		if res.Session, err = s.openSession(ctx, q, userID, meta); err != nil {
			return err
		}
		if err := s.audit(ctx, q, userID, userID, "login_success", meta, detail); err != nil {
			return err
		}
		pr, err := q.GetUserProfile(ctx, userID)
		res.User = userFromProfile(pr)
		return err
	})
	if err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) {
			return OAuthResult{}, oe
		}
		return OAuthResult{}, err
	}
	res.RedirectTo = redirectTo
	return res, nil
}

// providerName makes a provider's display name one the registration rules
// accept: control and format characters become spaces, runs of white space
// one space, trimmed, at most 100 characters; nil when nothing is left.
func providerName(s string) *string {
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxNameLen {
		s = strings.TrimSpace(string([]rune(s)[:maxNameLen]))
	}
	if _, ferr := normalizeName(s); ferr != nil {
		return nil
	}
	return &s
}

// imageOrNil keeps a provider's picture only if it is a URL a profile may
// hold.
func imageOrNil(s string) *string {
	if s == "" {
		return nil
	}
	img, ferr := imageURL(s)
	if ferr != nil {
		return nil
	}
	return &img
}

// storeProviderTokens writes the provider's tokens to the account, sealed
// under AUTH_SECRET and bound to the row: a new account row, or the
// existing one's tokens replaced.
func (s *Service) storeProviderTokens(ctx context.Context, q *db.Queries, p *provider, id identity,
	tok *oauth2.Token, userID string, exists bool) error {
	provider := p.cfg.ID
	seal := func(col, v string) (*string, error) {
		if v == "" {
			return nil, nil
		}
		return s.sealProviderToken(provider, id.AccountID, col, &v)
	}
	access, err := seal(colAccessToken, tok.AccessToken)
	if err != nil {
		return err
	}
	refresh, err := seal(colRefreshToken, tok.RefreshToken)
	if err != nil {
		return err
	}
	idTok, err := seal(colIDToken, id.IDToken)
	if err != nil {
		return err
	}
	var expires *int32
	if !tok.Expiry.IsZero() {
		e := int32(min(tok.Expiry.Unix(), 1<<31-1))
		expires = &e
	}
	tokenType := nonEmpty(tok.TokenType)
	scope, _ := tok.Extra("scope").(string)
	if exists {
		_, err := q.UpdateAccountTokens(ctx, db.UpdateAccountTokensParams{
			RefreshToken: refresh, AccessToken: access, ExpiresAt: expires, TokenType: tokenType,
			Scope: nonEmpty(scope), IDToken: idTok, Provider: provider, ProviderAccountID: id.AccountID,
		})
		return err
	}
	_, err = q.CreateAccount(ctx, db.CreateAccountParams{
		UserID: userID, Type: p.cfg.Type, Provider: provider, ProviderAccountID: id.AccountID,
		RefreshToken: refresh, AccessToken: access, ExpiresAt: expires, TokenType: tokenType,
		Scope: nonEmpty(scope), IDToken: idTok,
	})
	return err
}
