package httpapi

import (
	"errors"
	"net/http"

	"github.com/nextsecure/nextsecure/service"
)

// The pages emailed links and second factors lead to: /forgot-password,
// /reset-password, /magic-link, /confirm-email and /login/mfa.
//
// A page opened from an emailed link shows what its button will do and
// never consumes the token on GET (mail scanners open links). The button
// posts the token in a hidden field to the page's path without the query,
// so after the post the address bar no longer holds it.

func init() {
	flashMessages["mfa_expired"] = "That sign-in has expired or is no longer valid; sign in again."
}

func (a *api) linkPages() {
	a.page("/forgot-password", a.handleForgotPasswordPage(), a.handleForgotPasswordPost())
	a.page("/reset-password", a.handleResetPasswordPage(), a.handleResetPasswordPost())
	a.page("/magic-link", a.handleMagicLinkPage(), a.handleMagicLinkPost())
	a.page("/confirm-email", a.handleConfirmEmailPage(), a.handleConfirmEmailPost())
	a.page("/login/mfa", a.handleMFAPage(), a.handleMFAPost())
}

// linkTokenData is the own data of a page reached from an emailed link: the
// token the link carries, put in the form's hidden field ("" when the page
// has none, or it was spent: the page then offers a new link).
type linkTokenData struct {
	Token string
}

func (a *api) handleForgotPasswordPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, "forgot-password", view{Title: "Forgot your password?", Form: newForm(r)})
	})
}

// handleForgotPasswordPost asks for a reset link: the same answer whatever
// the email, as POST /v1/auth/password/forgot.
func (a *api) handleForgotPasswordPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newForm(r, "email")
		a.submit(w, r, formSubmission{
			route: "forgot", form: f, page: "forgot-password", flash: "reset_sent", next: "/login",
			call:   func() error { return a.svc.ForgotPassword(r.Context(), r.PostFormValue("email"), a.meta(r)) },
			failed: func(msg string) view { return view{Title: "Forgot your password?", Form: f, Error: msg} },
		})
	})
}

const resetTitle = "Choose a new password"

// handleResetPasswordPage shows the new-password form for the emailed
// link's token, without checking or using it.
func (a *api) handleResetPasswordPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, "reset-password", view{
			Title: resetTitle, Form: newForm(r), Data: linkTokenData{Token: r.URL.Query().Get("token")},
		})
	})
}

// handleResetPasswordPost sets the new password, as POST
// /v1/auth/password/reset: every session of the user ends, this browser's
// included. A refused password keeps the token (it was not used); a spent
// or wrong token leaves a page that offers a new link.
func (a *api) handleResetPasswordPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PostFormValue("token")
		f := newForm(r)
		err := a.svc.ThrottleIP(r.Context(), "reset", a.clientIP(r))
		if err == nil {
			err = a.svc.ResetPassword(r.Context(), service.ResetPasswordInput{
				Token: token, Password: r.PostFormValue("password"),
			}, a.meta(r))
		}
		if err != nil {
			v := view{Title: resetTitle, Form: f, Data: linkTokenData{Token: token}}
			if !f.fieldErrors(err) {
				v.Error = a.pageMessage(r, err)
				if service.ErrorCode(err) == service.CodeInvalidToken {
					v.Data = linkTokenData{}
				}
			}
			a.render(w, r, pageStatus(w, err), "reset-password", v)
			return
		}
		a.clearSessionCookie(w)
		a.setFlash(w, "password_reset")
		seeOther(w, r, "/login")
	})
}

// keepLinkToken is the data of a link page whose post failed with err: the
// token stays in the form when trying again may work (too many requests,
// a moment of unavailability), and is dropped when the link is spent or
// refused, so the page offers a new one.
func keepLinkToken(r *http.Request, err error) linkTokenData {
	switch service.ErrorCode(err) {
	case service.CodeRateLimited, service.CodeUnavailable:
		return linkTokenData{Token: r.PostFormValue("token")}
	}
	return linkTokenData{}
}

const magicTitle = "Sign in with a link"

// handleMagicLinkPage explains the emailed sign-in link and offers the
// button that uses it.
func (a *api) handleMagicLinkPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, "magic-link", view{
			Title: magicTitle, Data: linkTokenData{Token: r.URL.Query().Get("token")},
		})
	})
}

// handleMagicLinkPost signs in with the link's token, as POST
// /v1/auth/magic-link/verify; with two-factor on, the second factor is
// asked for at /login/mfa.
func (a *api) handleMagicLinkPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.svc.ThrottleIP(r.Context(), "magic-link-verify", a.clientIP(r))
		var session service.SessionToken
		if err == nil {
			_, session, err = a.svc.VerifyMagicLink(r.Context(), r.PostFormValue("token"), a.meta(r))
		}
		var m *service.MFARequired
		if errors.As(err, &m) {
			a.setMFACookie(w, m)
			seeOther(w, r, "/login/mfa")
			return
		}
		if err != nil {
			a.render(w, r, pageStatus(w, err), "magic-link", view{
				Title: magicTitle, Error: a.pageMessage(r, err), Data: keepLinkToken(r, err),
			})
			return
		}
		a.setSessionCookie(w, session)
		a.setFlash(w, "signed_in")
		seeOther(w, r, "/account")
	})
}

const confirmTitle = "Confirm your new email address"

// handleConfirmEmailPage explains the emailed email-change link and offers
// the button that uses it.
func (a *api) handleConfirmEmailPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := view{Title: confirmTitle, Data: linkTokenData{Token: r.URL.Query().Get("token")}}
		if p, ok, err := a.signedIn(w, r); err == nil && ok {
			v.User = &p.User
		}
		a.render(w, r, http.StatusOK, "confirm-email", v)
	})
}

// handleConfirmEmailPost changes the address, as POST
// /v1/auth/email/confirm; the browser need not be signed in (the link may
// be opened on another device).
func (a *api) handleConfirmEmailPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := a.svc.ThrottleIP(r.Context(), "email-confirm", a.clientIP(r))
		if err == nil {
			_, err = a.svc.ConfirmEmailChange(r.Context(), r.PostFormValue("token"), a.meta(r))
		}
		p, signedIn, authErr := a.signedIn(w, r)
		signedIn = signedIn && authErr == nil
		if err != nil {
			v := view{Title: confirmTitle, Error: a.pageMessage(r, err), Data: keepLinkToken(r, err)}
			if signedIn {
				v.User = &p.User
			}
			a.render(w, r, pageStatus(w, err), "confirm-email", v)
			return
		}
		a.setFlash(w, "email_confirmed")
		if signedIn {
			seeOther(w, r, "/account")
			return
		}
		seeOther(w, r, "/login")
	})
}

const mfaTitle = "Two-factor authentication"

// loginMFAData is /login/mfa's own data: the recovery-code form (the view's
// Form is the code one).
type loginMFAData struct {
	Recovery *form
	// Next is where the signed-in browser goes (a local path, or empty
	// for /account).
	Next string
}

func (a *api) loginMFAView(r *http.Request, code, recovery *form, msg string) view {
	if recovery == nil {
		recovery = &form{Values: map[string]string{}, Errors: map[string]string{}}
	}
	if code == nil {
		code = &form{Values: map[string]string{}, Errors: map[string]string{}}
		if recovery.first == "" {
			// The code is what the person came to type: focus it.
			code.first = "code"
		}
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	return view{Title: mfaTitle, Form: code, Error: msg,
		Data: loginMFAData{Recovery: recovery, Next: localPath(next, "")}}
}

// handleMFAPage asks for the second factor of a sign-in whose first factor
// (a password, a magic link, a provider) left the mfa cookie; without it
// there is nothing to finish, and the browser goes to /login.
func (a *api) handleMFAPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(mfaCookie); err != nil || c.Value == "" {
			seeOther(w, r, "/login")
			return
		}
		a.render(w, r, http.StatusOK, "login-mfa", a.loginMFAView(r, nil, nil, ""))
	})
}

// handleMFAPost finishes the sign-in with a TOTP code or a recovery code,
// as POST /v1/auth/login/mfa with the token of the mfa cookie. A wrong
// code shows the form again; a dead token sends the browser back to /login.
func (a *api) handleMFAPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(mfaCookie)
		if err != nil || c.Value == "" {
			a.setFlash(w, "mfa_expired")
			seeOther(w, r, "/login")
			return
		}
		// Each form sends one kind of code; the other form stays empty.
		var code, rec *form
		sent, field := &code, "code"
		in := service.MFALoginInput{Token: c.Value}
		if r.PostFormValue("action") == "recovery" {
			sent, field = &rec, "recoveryCode"
			in.RecoveryCode = r.PostFormValue(field)
		} else {
			in.Code = r.PostFormValue(field)
		}
		*sent = newForm(r, field)
		err = a.svc.ThrottleIP(r.Context(), "login-mfa", a.clientIP(r))
		var session service.SessionToken
		if err == nil {
			_, session, err = a.svc.CompleteMFALogin(r.Context(), in, a.meta(r))
			a.metrics.logins.WithLabelValues(mfaOutcome(err)).Inc()
		}
		switch service.ErrorCode(err) {
		case "":
			a.clearMFACookie(w)
			a.setSessionCookie(w, session)
			seeOther(w, r, localPath(r.PostFormValue("next"), "/account"))
		case service.CodeInvalidToken:
			a.clearMFACookie(w)
			a.setFlash(w, "mfa_expired")
			seeOther(w, r, "/login")
		case service.CodeInvalidCode:
			(*sent).fail(field, a.pageMessage(r, err))
			a.render(w, r, pageStatus(w, err), "login-mfa", a.loginMFAView(r, code, rec, ""))
		case service.CodeAccountDisabled:
			// The service spent the token: nothing is left to finish.
			a.clearMFACookie(w)
			a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
		default:
			a.render(w, r, pageStatus(w, err), "login-mfa", a.loginMFAView(r, code, rec, a.pageMessage(r, err)))
		}
	})
}
