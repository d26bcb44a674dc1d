package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/nextsecure/nextsecure/service"
)

// The browser pages (API.md "Browser pages"): server-rendered HTML forms
// over package service, no script, one layout and one stylesheet. Forms
// post to their own page; a success answers with a redirect (post,
// redirect, get) and a flash message, and a refusal renders the form again
// with its messages next to the fields, so what was typed is kept.

//go:embed pages
var pageFiles embed.FS

// pageCSP is the pages' Content-Security-Policy: nothing from elsewhere,
// no inline script or style, forms only to this origin, no framing. Images
// may be data: URLs, for the two-factor QR code.
const pageCSP = "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// flashCookie carries a flash message's key across a redirect; the text
// comes from flashMessages, so the cookie cannot inject any.
const flashCookie = "flash"

// maxFormBody bounds a form post, as maxBody bounds a JSON body.
const maxFormBody = 64 << 10

// pages holds the parsed templates and the stylesheet.
type pages struct {
	tmpl    map[string]*template.Template
	css     []byte
	cssPath string
	csrf    *http.CrossOriginProtection
}

// newPages parses every page under pages/ with the layout and joins the
// stylesheets under pages/css into one, named by its content's hash so it
// can be cached for a year.
func newPages() (*pages, error) {
	p := &pages{tmpl: map[string]*template.Template{}}
	cssFiles, err := fs.Glob(pageFiles, "pages/css/*.css")
	if err != nil {
		return nil, err
	}
	sort.Strings(cssFiles)
	var css bytes.Buffer
	for _, f := range cssFiles {
		b, err := pageFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		css.Write(b)
		css.WriteByte('\n')
	}
	p.css = css.Bytes()
	sum := sha256.Sum256(p.css)
	p.cssPath = "/static/style." + hex.EncodeToString(sum[:6]) + ".css"

	layout, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(pageFiles, "pages/layout.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(pageFiles, "pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(pageFiles, f)
		if err != nil {
			return nil, err
		}
		p.tmpl[name] = t
	}
	p.csrf = http.NewCrossOriginProtection()
	return p, nil
}

// pageRoutes registers the browser pages. Each group of pages lives in a
// file of its own (page_*.go) and registers itself here.
func (a *api) pageRoutes() {
	a.handleLocal("GET", a.pages.cssPath, a.handleStylesheet())
	a.authPages()
	a.linkPages()
	a.accountPages()
	a.adminPages()
}

// page registers a page's GET handler and, when post is not nil, its form
// handler, which refuses cross-origin posts (Sec-Fetch-Site, then Origin
// against Host) with 403.
func (a *api) page(path string, get, post http.Handler) {
	if get != nil {
		a.handle("GET", path, a.pageHeaders(get))
	}
	if post != nil {
		a.handle("POST", path, a.pageHeaders(a.sameOrigin(post)))
	}
}

// pageHeaders sets the headers every page carries: HTML pages are personal
// or carry tokens, so never cached, and confined by pageCSP.
func (a *api) pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a form post from another site with a 403 page, and a
// body that is not a form with 415; it parses the form (at most 64 KiB).
func (a *api) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Go's check, which trusts a browser's Sec-Fetch-Site (with the
		// pages' Referrer-Policy: no-referrer, Chromium sends Origin: null
		// on their own forms); without Sec-Fetch-Site, the JSON routes'
		// rule too (API.md): an Origin other than BASE_URL's is refused,
		// whatever Host a proxy passed on.
		if err := a.pages.csrf.Check(r); err != nil ||
			(r.Header.Get("Sec-Fetch-Site") == "" && foreignOrigin(r, a.origin)) {
			a.renderError(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the page here and send it again.")
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			a.renderError(w, r, http.StatusUnsupportedMediaType, "This page accepts only its own form.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status = http.StatusRequestEntityTooLarge
			}
			a.renderError(w, r, status, "The form could not be read.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// wantsPage reports whether an unknown address should be answered with a
// page rather than a problem: a browser's navigation outside /v1/.
func wantsPage(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/v1/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// foreignOrigin reports whether r carries an Origin other than origin.
func foreignOrigin(r *http.Request, origin string) bool {
	o := r.Header.Get("Origin")
	return o != "" && o != origin
}

// handleStylesheet serves the stylesheet under its hashed name: any change
// renames it, so it may be cached for a year.
func (a *api) handleStylesheet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("Content-Length", strconv.Itoa(len(a.pages.css)))
		w.Write(a.pages.css)
	})
}

// view is what every page template receives.
type view struct {
	// Title is the page's title, in the tab and as its heading.
	Title string
	// User is the signed-in user, if any.
	User *service.User
	// Flash is a message carried across a redirect.
	Flash string
	// Error is a message about the whole form or page.
	Error string
	// Form holds what was typed and the messages for each field.
	Form *form
	// Data is the page's own data.
	Data any
	// CSS is the stylesheet's address.
	CSS string
}

// form holds a form's values and its messages, by field name.
type form struct {
	Values map[string]string
	Errors map[string]string
	// first is the first field with an error: it gets the focus.
	first string
}

func newForm(r *http.Request, fields ...string) *form {
	f := &form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, name := range fields {
		f.Values[name] = r.PostFormValue(name)
	}
	return f
}

// fail records a message for field.
func (f *form) fail(field, msg string) {
	if _, ok := f.Errors[field]; ok {
		return
	}
	f.Errors[field] = msg
	if f.first == "" {
		f.first = field
	}
}

// fieldErrors records a validation error's field messages, and reports
// whether err was one.
func (f *form) fieldErrors(err error) bool {
	e := service.AsError(err)
	if e.Code != service.CodeValidation || len(e.Fields) == 0 {
		return false
	}
	for _, fe := range e.Fields {
		f.fail(fe.Field, fe.Message)
	}
	return true
}

// field is one input, as the "field" template renders it.
type field struct {
	ID, Name, Label, Type, Autocomplete, InputMode, Value, Error string
	Autofocus, Required                                          bool
}

// pageFuncs are the templates' helpers.
var pageFuncs = template.FuncMap{
	// field describes input name of f: kind is the input type, or "code"
	// for a one-time code (numeric keyboard, one-time-code autocomplete).
	// Passwords are never echoed back.
	"field": func(f *form, name, label, kind, autocomplete string) field {
		fl := field{ID: "f-" + name, Name: name, Label: label, Type: kind, Autocomplete: autocomplete, Required: true}
		if kind == "code" {
			fl.Type, fl.InputMode = "text", "numeric"
		}
		if f != nil {
			if kind != "password" {
				fl.Value = f.Values[name]
			}
			fl.Error = f.Errors[name]
			fl.Autofocus = f.first == name
		}
		return fl
	},
	// optional marks a field as not required.
	"optional": func(fl field) field { fl.Required = false; return fl },
	// in gives a field an id of its own when a page has two forms with
	// fields of one name.
	"in": func(form string, fl field) field { fl.ID = form + "-" + fl.Name; return fl },
}

// flashMessages are the messages a redirect can carry, by key.
var flashMessages = map[string]string{
	"signed_out":         "You are signed out.",
	"verification_sent":  "Check your inbox: we sent a link to confirm the address. It works once.",
	"email_verified":     "Your email address is confirmed, and you are signed in.",
	"reset_sent":         "If an account uses that address, we sent it a link to choose a new password.",
	"password_reset":     "Your password is changed and every session was signed out. Sign in with the new one.",
	"magic_link_sent":    "If an active account uses that address, we sent it a sign-in link.",
	"signed_in":          "You are signed in.",
	"email_confirmed":    "Your new email address is confirmed.",
	"email_change_sent":  "Check the inbox of the new address: we sent it a link to confirm the change.",
	"profile_saved":      "Your profile is saved.",
	"password_changed":   "Your password is changed; your other sessions were signed out.",
	"session_revoked":    "That session is signed out.",
	"sessions_revoked":   "Your other sessions are signed out.",
	"account_unlinked":   "The provider is unlinked.",
	"mfa_disabled":       "Two-factor authentication is off.",
	"account_deleted":    "Your account is deleted.",
	"user_updated":       "The user is updated.",
	"user_mfa_reset":     "Two-factor authentication is off for that user.",
	"already_signed_out": "Your session has ended; sign in again.",
}

// setFlash makes the next page show the message key names.
func (a *api) setFlash(w http.ResponseWriter, key string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: key, Path: "/", MaxAge: 60, HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the flash message the request carries, and removes it.
func (a *api) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return flashMessages[c.Value]
}

// seeOther answers a form post with a redirect to a path on this server.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// render writes page name with status. v.Flash is filled from the flash
// cookie when the page is shown by a GET.
func (a *api) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := a.pages.tmpl[name]
	if !ok {
		panic("no page template " + name)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if msg := a.takeFlash(w, r); msg != "" && v.Flash == "" {
			v.Flash = msg
		}
	}
	v.CSS = a.pages.cssPath
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		a.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// formSubmission is a public form whose success is a flash and a redirect:
// register, resend, forgot, magic link.
type formSubmission struct {
	route string       // the JSON route's throttle name
	form  *form        // what was typed
	call  func() error // the service call
	// page and failed render the page again on failure: failed builds its
	// view with the message about the whole form (empty when the fields
	// carry the messages).
	page   string
	failed func(msg string) view
	flash  string // shown after the redirect to next
	next   string
}

// submit throttles the form under its JSON route's limit, runs the call,
// and answers with the flash and a redirect, or the page again with the
// messages next to the fields.
func (a *api) submit(w http.ResponseWriter, r *http.Request, s formSubmission) {
	err := a.svc.ThrottleIP(r.Context(), s.route, a.clientIP(r))
	if err == nil {
		err = s.call()
	}
	if err != nil {
		msg := ""
		if !s.form.fieldErrors(err) {
			msg = a.pageMessage(r, err)
		}
		a.render(w, r, pageStatus(w, err), s.page, s.failed(msg))
		return
	}
	a.setFlash(w, s.flash)
	seeOther(w, r, s.next)
}

// renderError shows a page with only a message.
func (a *api) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.render(w, r, status, "error", view{Title: http.StatusText(status), Error: msg})
}

// pageStatus is the HTTP status a page answers err with; 429 and 503 carry
// Retry-After as the JSON routes do.
func pageStatus(w http.ResponseWriter, err error) int {
	e := service.AsError(err)
	setRetryAfter(w, e)
	if s, ok := statusOf[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// pageMessage is the sentence a page shows for err: the service's message
// for the contract's errors, a fixed one for anything unexpected (logged).
func (a *api) pageMessage(r *http.Request, err error) string {
	e := service.AsError(err)
	if _, ok := statusOf[e.Code]; !ok || e.Code == service.CodeInternal {
		a.log.ErrorContext(r.Context(), "page failed", "err", err)
		return "Something went wrong on our side. Try again in a moment."
	}
	if e.Code == service.CodeUnavailable {
		a.log.WarnContext(r.Context(), "page refused: unavailable", "err", err)
	}
	return e.Message
}

// signedIn returns the principal of the request's session cookie, sliding
// the cookie with the session, or ok false when there is none or it no
// longer authenticates (the stale cookie is then removed).
func (a *api) signedIn(w http.ResponseWriter, r *http.Request) (service.Principal, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return service.Principal{}, false, nil
	}
	p, err := a.svc.Authenticate(r.Context(), c.Value)
	if err != nil {
		if service.ErrorCode(err) == service.CodeUnauthenticated {
			a.clearSessionCookie(w)
			return service.Principal{}, false, nil
		}
		return service.Principal{}, false, err
	}
	if p.SessionExtended {
		a.setSessionCookie(w, service.SessionToken{ID: p.SessionID, Token: c.Value, ExpiresAt: p.SessionExpiresAt})
	}
	return p, true, nil
}

type pagePrincipalKey struct{}

// signedInPage lets only signed-in browsers through to next, and sends the
// others to /login; the principal is in the context (pagePrincipal).
func (a *api) signedInPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok, err := a.signedIn(w, r)
		if err != nil {
			a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
			return
		}
		if !ok {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				a.setFlash(w, "already_signed_out")
			}
			seeOther(w, r, "/login")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), pagePrincipalKey{}, p)))
	})
}

// pagePrincipal returns the principal signedInPage found.
func pagePrincipal(r *http.Request) service.Principal {
	p, _ := r.Context().Value(pagePrincipalKey{}).(service.Principal)
	return p
}

// localPath returns to when it is a path on this server (one leading
// slash, no scheme or host), else def; it guards redirects from open
// redirection.
func localPath(to, def string) string {
	if to == "" || !strings.HasPrefix(to, "/") || strings.HasPrefix(to, "//") || strings.HasPrefix(to, "/\\") {
		return def
	}
	u, err := url.Parse(to)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return def
	}
	return to
}
