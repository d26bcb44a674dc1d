package httpapi

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/nextsecure/nextsecure/service"
)

// The sign-in pages: /, /login, /register, /verify-email and POST /logout.

func (a *api) authPages() {
	a.page("/", a.handleHomePage(), nil)
	a.page("/login", a.handleLoginPage(), a.handleLoginPost())
	a.page("/register", a.handleRegisterPage(), a.handleRegisterPost())
	a.page("/verify-email", a.handleVerifyEmailPage(), a.handleVerifyEmailPost())
	a.page("/logout", nil, a.handleLogoutPost())
}

// handleHomePage sends a browser to its account, or to sign in.
func (a *api) handleHomePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok, err := a.signedIn(w, r)
		if err != nil {
			a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
			return
		}
		if ok {
			seeOther(w, r, "/account")
			return
		}
		seeOther(w, r, "/login")
	})
}

// loginErrors are the sentences /login shows for ?error=CODE, the codes a
// provider sign-in redirects with (API.md).
var loginErrors = map[string]string{
	string(service.CodeOAuthFailed):           "The sign-in with the provider did not complete. Try again.",
	string(service.CodeOAuthDenied):           "The provider sign-in was cancelled.",
	string(service.CodeOAuthAccountTaken):     "That provider account is already linked to another user.",
	string(service.CodeOAuthAlreadyLinked):    "Your account is already linked to another account of that provider. Unlink it first.",
	string(service.CodeOAuthAccountNotLinked): "An account with that email exists but its address is not confirmed. Sign in with its password, then link the provider from your account page.",
	string(service.CodeOAuthEmailUnverified):  "The provider has not verified your email address, so it cannot be used to sign in.",
	string(service.CodeAccountDisabled):       "This account is deactivated.",
	string(service.CodeUnavailable):           "The provider cannot be reached right now. Try again in a moment.",
	string(service.CodeNotFound):              "That provider is not configured.",
}

// loginData is /login's own data.
type loginData struct {
	Providers  []service.ProviderInfo
	RedirectTo string
	// Magic is the magic-link form; the view's Form is the password one.
	Magic *form
}

func (a *api) loginView(r *http.Request, f, magic *form, msg string) view {
	if f == nil {
		f = &form{Values: map[string]string{}, Errors: map[string]string{}}
	}
	if magic == nil {
		magic = &form{Values: map[string]string{}, Errors: map[string]string{}}
	}
	next := localPath(r.URL.Query().Get("next"), "")
	if r.Method == http.MethodPost {
		next = localPath(r.PostFormValue("next"), "")
	}
	if msg == "" {
		if code := r.URL.Query().Get("error"); code != "" {
			msg = loginErrors[code]
			if msg == "" {
				msg = loginErrors[string(service.CodeOAuthFailed)]
			}
		}
	}
	return view{Title: "Sign in", Form: f, Error: msg,
		Data: loginData{Providers: a.svc.Providers(), RedirectTo: next, Magic: magic}}
}

func (a *api) handleLoginPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok, err := a.signedIn(w, r); err == nil && ok {
			seeOther(w, r, localPath(r.URL.Query().Get("next"), "/account"))
			return
		}
		a.render(w, r, http.StatusOK, "login", a.loginView(r, nil, nil, ""))
	})
}

// handleLoginPost signs in with a password, or asks for a magic link when
// the magic-link form's button sent it.
func (a *api) handleLoginPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("action") == "magic-link" {
			a.requestMagicLink(w, r)
			return
		}
		f := newForm(r, "email")
		if err := a.svc.ThrottleIP(r.Context(), "login", a.clientIP(r)); err != nil {
			a.render(w, r, pageStatus(w, err), "login", a.loginView(r, f, nil, a.pageMessage(r, err)))
			return
		}
		_, session, err := a.svc.Login(r.Context(), service.LoginInput{
			Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
		}, a.meta(r))
		a.metrics.logins.WithLabelValues(loginOutcome(err)).Inc()
		var m *service.MFARequired
		if errors.As(err, &m) {
			a.setMFACookie(w, m)
			to := "/login/mfa"
			if next := localPath(r.PostFormValue("next"), ""); next != "" {
				to += "?next=" + url.QueryEscape(next)
			}
			seeOther(w, r, to)
			return
		}
		if err != nil {
			a.render(w, r, pageStatus(w, err), "login", a.loginView(r, f, nil, a.pageMessage(r, err)))
			return
		}
		a.setSessionCookie(w, session)
		seeOther(w, r, localPath(r.PostFormValue("next"), "/account"))
	})
}

// requestMagicLink is /login's magic-link form: the same answer whatever
// the email, as POST /v1/auth/magic-link.
func (a *api) requestMagicLink(w http.ResponseWriter, r *http.Request) {
	magic := newForm(r, "email")
	a.submit(w, r, formSubmission{
		route: "magic-link", form: magic, page: "login", flash: "magic_link_sent", next: "/login",
		call:   func() error { return a.svc.RequestMagicLink(r.Context(), r.PostFormValue("email"), a.meta(r)) },
		failed: func(msg string) view { return a.loginView(r, nil, magic, msg) },
	})
}

func (a *api) handleRegisterPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, "register", view{Title: "Create an account", Form: newForm(r)})
	})
}

func (a *api) handleRegisterPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := newForm(r, "name", "email")
		a.submit(w, r, formSubmission{
			route: "register", form: f, page: "register", flash: "verification_sent", next: "/verify-email",
			call: func() error {
				return a.svc.Register(r.Context(), service.RegisterInput{
					Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
				}, a.meta(r))
			},
			failed: func(msg string) view { return view{Title: "Create an account", Form: f, Error: msg} },
		})
	})
}

// verifyData is /verify-email's own data: the token the emailed link
// carries, put in the form, never used by the GET.
type verifyData struct {
	Token string
}

// handleVerifyEmailPage shows what the emailed link will do and a button;
// a mail scanner that opens the link consumes nothing. Without a token it
// offers to send the link again.
func (a *api) handleVerifyEmailPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, "verify-email", view{
			Title: "Confirm your email address", Form: newForm(r),
			Data: verifyData{Token: r.URL.Query().Get("token")},
		})
	})
}

// handleVerifyEmailPost confirms the address (creating the account and
// signing in), or, from the resend form, sends the link again.
func (a *api) handleVerifyEmailPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("action") == "resend" {
			f := newForm(r, "email")
			a.submit(w, r, formSubmission{
				route: "resend", form: f, page: "verify-email", flash: "verification_sent", next: "/verify-email",
				call: func() error { return a.svc.ResendVerification(r.Context(), r.PostFormValue("email"), a.meta(r)) },
				failed: func(msg string) view {
					return view{Title: "Confirm your email address", Form: f, Error: msg, Data: verifyData{}}
				},
			})
			return
		}
		err := a.svc.ThrottleIP(r.Context(), "verify", a.clientIP(r))
		var session service.SessionToken
		if err == nil {
			_, session, err = a.svc.VerifyEmail(r.Context(), r.PostFormValue("token"), a.meta(r))
		}
		if err != nil {
			// The token is spent or wrong: the page offers a new link,
			// and the address bar no longer holds the token.
			a.render(w, r, pageStatus(w, err), "verify-email", view{
				Title: "Confirm your email address", Form: newForm(r), Error: a.pageMessage(r, err), Data: verifyData{},
			})
			return
		}
		a.setSessionCookie(w, session)
		a.setFlash(w, "email_verified")
		seeOther(w, r, "/account")
	})
}

// handleLogoutPost ends this browser's session.
func (a *api) handleLogoutPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := a.signedIn(w, r)
		if err != nil {
			a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
			return
		}
		if ok {
			if err := a.svc.Logout(r.Context(), p, a.meta(r)); err != nil {
				a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
				return
			}
		}
		a.clearSessionCookie(w)
		a.setFlash(w, "signed_out")
		seeOther(w, r, "/login")
	})
}
