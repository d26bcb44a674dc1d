package httpapi

import (
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/nextsecure/nextsecure/service"
)

// The self-service page, /account: profile, email change, password,
// sessions, providers, two-factor and account deletion. Every form posts to
// /account with a hidden action; the handlers call the same service
// functions as the JSON routes under /v1/me, with the same rules (a wrong
// current password is 403, as reauthError makes it).

func (a *api) accountPages() {
	a.page("/account", a.signedInPage(a.handleAccountPage()), a.signedInPage(a.handleAccountPost()))
}

// accountData is /account's own data.
type accountData struct {
	Sessions  []service.SessionInfo
	Providers []providerRow
	// Forms holds each section's form by its action, so a refused form
	// keeps what was typed and shows its messages.
	Forms map[string]*form
	// Errors holds a message about a refused form as a whole, by the id
	// of the section that shows it.
	Errors map[string]string
}

// providerRow is a provider as /account lists it: configured, linked, or both.
type providerRow struct {
	ID, Name           string
	Linked, Configured bool
}

// accountForms are the forms of /account, by action.
var accountForms = []string{
	"profile", "email", "password", "revoke-session", "revoke-others", "link", "unlink",
	"mfa-begin", "mfa-regenerate", "mfa-disable", "delete",
}

// accountView builds /account for p; failed, when not nil, is the form of
// action that was refused.
func (a *api) accountView(r *http.Request, p service.Principal, action string, failed *form, msg string) (view, error) {
	sessions, err := a.svc.ListSessions(r.Context(), p)
	if err != nil {
		return view{}, err
	}
	forms := map[string]*form{}
	for _, name := range accountForms {
		forms[name] = &form{Values: map[string]string{}, Errors: map[string]string{}}
	}
	name, image := "", ""
	if p.User.Name != nil {
		name = *p.User.Name
	}
	if p.User.Image != nil {
		image = *p.User.Image
	}
	forms["profile"].Values["name"], forms["profile"].Values["image"] = name, image
	if failed != nil {
		forms[action] = failed
	}
	return view{Title: "Your account", User: &p.User, Form: failed, Data: accountData{
		Sessions: sessions, Providers: a.providerRows(p.User), Forms: forms,
		Errors: map[string]string{accountSection(action): msg},
	}}, nil
}

// accountSection is the id of the section holding action's form.
func accountSection(action string) string {
	switch action {
	case "revoke-session", "revoke-others":
		return "sessions"
	case "link", "unlink":
		return "providers"
	case "mfa-begin", "mfa-regenerate", "mfa-disable":
		return "mfa"
	}
	return action
}

// providerRows lists the configured providers and the user's linked ones
// (a linked provider no longer configured can still be unlinked).
func (a *api) providerRows(u service.User) []providerRow {
	linked := map[string]bool{}
	for _, acc := range u.Accounts {
		linked[acc.Provider] = true
	}
	var rows []providerRow
	seen := map[string]bool{}
	for _, pi := range a.svc.Providers() {
		rows = append(rows, providerRow{ID: pi.ID, Name: pi.Name, Linked: linked[pi.ID], Configured: true})
		seen[pi.ID] = true
	}
	var gone []string
	for id := range linked {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		rows = append(rows, providerRow{ID: id, Name: id, Linked: true})
	}
	return rows
}

func (a *api) handleAccountPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pagePrincipal(r)
		v, err := a.accountView(r, p, "", nil, "")
		if err != nil {
			a.renderError(w, r, pageStatus(w, err), a.pageMessage(r, err))
			return
		}
		a.render(w, r, http.StatusOK, "account", v)
	})
}

// handleAccountPost runs one of /account's forms, named by its action.
func (a *api) handleAccountPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pagePrincipal(r)
		switch action := r.PostFormValue("action"); action {
		case "profile":
			a.accountProfile(w, r, p)
		case "email":
			f := newForm(r, "email")
			err := a.svc.RequestEmailChange(r.Context(), p, service.ChangeEmailInput{
				Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
			}, a.meta(r))
			a.accountDone(w, r, p, action, f, "password", err, "email_change_sent")
		case "password":
			f := newForm(r)
			err := a.svc.ChangePassword(r.Context(), p, service.ChangePasswordInput{
				CurrentPassword: r.PostFormValue("currentPassword"), NewPassword: r.PostFormValue("newPassword"),
			}, a.meta(r))
			a.accountDone(w, r, p, action, f, "currentPassword", err, "password_changed")
		case "revoke-session":
			id := r.PostFormValue("session")
			err := a.svc.RevokeSession(r.Context(), p, id, a.meta(r))
			if err == nil && id == p.SessionID {
				a.clearSessionCookie(w)
				a.setFlash(w, "signed_out")
				seeOther(w, r, "/login")
				return
			}
			a.accountDone(w, r, p, action, newForm(r), "", err, "session_revoked")
		case "revoke-others":
			a.accountDone(w, r, p, action, newForm(r), "", a.revokeOtherSessions(r, p), "sessions_revoked")
		case "link":
			start, err := a.svc.StartLink(r.Context(), p, r.PostFormValue("provider"))
			if err != nil {
				a.accountDone(w, r, p, action, newForm(r), "", err, "")
				return
			}
			// A redirect would be the provider's answer to this form, and
			// the CSP's form-action 'self' forbids it (browsers check
			// form-action on redirects too); a page that moves on to the
			// provider by itself (Refresh) and offers a link does not.
			a.setFlowCookie(w, start.Binding)
			w.Header().Set("Refresh", "0; url="+start.URL)
			name := a.providerName(r.PostFormValue("provider"))
			a.render(w, r, http.StatusOK, "account-link", view{Title: "Continue to " + name, User: &p.User,
				Data: linkData{URL: template.URL(start.URL), Provider: name}})
		case "unlink":
			err := a.svc.UnlinkAccount(r.Context(), p, r.PostFormValue("provider"), a.meta(r))
			a.accountDone(w, r, p, action, newForm(r), "", err, "account_unlinked")
		case "mfa-begin":
			setup, err := a.svc.BeginTOTP(r.Context(), p, r.PostFormValue("password"), a.meta(r))
			if err != nil {
				a.accountDone(w, r, p, action, newForm(r), "password", err, "")
				return
			}
			a.render(w, r, http.StatusOK, "account-mfa", view{Title: "Set up two-factor authentication",
				User: &p.User, Form: newForm(r), Data: mfaData{Setup: &setup, QR: qrImage(setup)}})
		case "mfa-confirm":
			a.accountConfirmTOTP(w, r, p)
		case "mfa-regenerate":
			f := newForm(r)
			codes, err := a.svc.RegenerateRecoveryCodes(r.Context(), p, r.PostFormValue("password"),
				r.PostFormValue("code"), a.meta(r))
			if err != nil {
				a.accountDone(w, r, p, action, f, "password", err, "")
				return
			}
			a.render(w, r, http.StatusOK, "account-mfa", view{Title: "Your new recovery codes",
				User: &p.User, Data: mfaData{RecoveryCodes: codes}})
		case "mfa-disable":
			err := a.svc.DisableTOTP(r.Context(), p, r.PostFormValue("password"), r.PostFormValue("code"), a.meta(r))
			a.accountDone(w, r, p, action, newForm(r), "password", err, "mfa_disabled")
		case "delete":
			err := a.svc.DeleteAccount(r.Context(), p, r.PostFormValue("password"), a.meta(r))
			if err == nil {
				a.clearSessionCookie(w)
				a.setFlash(w, "account_deleted")
				seeOther(w, r, "/login")
				return
			}
			a.accountDone(w, r, p, action, newForm(r), "password", err, "")
		default:
			a.renderError(w, r, http.StatusBadRequest, "This page accepts only its own forms.")
		}
	})
}

// accountProfile saves the name and the picture's URL (empty removes it).
func (a *api) accountProfile(w http.ResponseWriter, r *http.Request, p service.Principal) {
	f := newForm(r, "name", "image")
	name := r.PostFormValue("name")
	in := service.ProfileUpdate{Name: &name, SetImage: true}
	if img := strings.TrimSpace(r.PostFormValue("image")); img != "" {
		in.Image = &img
	}
	_, err := a.svc.UpdateProfile(r.Context(), p, in, a.meta(r))
	if err != nil && service.ErrorCode(err) == service.CodeValidation {
		for _, fe := range service.AsError(err).Fields {
			if fe.Field == "image" && fe.Code == "invalid" {
				// The service's sentence speaks of JSON's null.
				f.fail("image", "Use an absolute http or https URL, or leave it empty.")
			}
		}
	}
	a.accountDone(w, r, p, "profile", f, "", err, "profile_saved")
}

// accountDone answers a form of /account: on success a redirect back with
// the flash message flash; on failure /account again, with the messages
// next to the fields of f. A wrong current password (pwField) is 403, and
// a wrong code 401, as on the JSON routes.
func (a *api) accountDone(w http.ResponseWriter, r *http.Request, p service.Principal, action string, f *form,
	pwField string, err error, flash string) {
	if err == nil {
		a.setFlash(w, flash)
		seeOther(w, r, "/account#"+accountSection(action))
		return
	}
	status, msg := a.accountFailure(w, r, f, pwField, err)
	v, verr := a.accountView(r, p, action, f, msg)
	if verr != nil {
		a.renderError(w, r, pageStatus(w, verr), a.pageMessage(r, verr))
		return
	}
	a.render(w, r, status, "account", v)
}

// accountFailure puts err's messages next to the fields of f, and returns
// the status to answer with and the message for the form as a whole, if any.
func (a *api) accountFailure(w http.ResponseWriter, r *http.Request, f *form, pwField string, err error) (int, string) {
	switch service.ErrorCode(err) {
	case service.CodeInvalidCreds:
		if pwField != "" {
			f.fail(pwField, service.AsError(err).Message)
			return http.StatusForbidden, ""
		}
		return http.StatusForbidden, service.AsError(err).Message
	case service.CodeInvalidCode:
		f.fail("code", service.AsError(err).Message)
		return pageStatus(w, err), ""
	}
	if f.fieldErrors(err) {
		return pageStatus(w, err), ""
	}
	return pageStatus(w, err), a.pageMessage(r, err)
}

// revokeOtherSessions ends every live session of p but the current one; a
// session that ended meanwhile is not an error.
func (a *api) revokeOtherSessions(r *http.Request, p service.Principal) error {
	sessions, err := a.svc.ListSessions(r.Context(), p)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if s.Current {
			continue
		}
		if err := a.svc.RevokeSession(r.Context(), p, s.ID, a.meta(r)); err != nil &&
			service.ErrorCode(err) != service.CodeNotFound {
			return err
		}
	}
	return nil
}

// mfaData is the two-factor page's own data: the pending enrolment, or the
// recovery codes, shown once.
type mfaData struct {
	Setup *service.TOTPSetup
	// QR is the setup's QR code, a data: URL the template may use as an
	// image source (html/template refuses data: URLs it is not told are
	// safe; this one is a PNG the service made).
	QR            template.URL
	RecoveryCodes []string
	// Enabled says two-factor was just turned on (and the other sessions
	// signed out).
	Enabled bool
}

// qrImage returns setup's QR code as an image source, "" unless it is the
// PNG data URL BeginTOTP makes.
func qrImage(setup service.TOTPSetup) template.URL {
	if !strings.HasPrefix(setup.QRCode, "data:image/png;base64,") {
		return ""
	}
	return template.URL(setup.QRCode)
}

// accountConfirmTOTP turns two-factor on with a code of the pending secret
// and shows the recovery codes, in this answer only (never in a cookie or
// an address). A wrong code shows the confirm form again; the secret is
// not shown again (the page does not have it: start over to see it).
func (a *api) accountConfirmTOTP(w http.ResponseWriter, r *http.Request, p service.Principal) {
	f := newForm(r)
	codes, err := a.svc.ConfirmTOTP(r.Context(), p, r.PostFormValue("code"), a.meta(r))
	if err != nil {
		status, msg := a.accountFailure(w, r, f, "", err)
		if service.ErrorCode(err) == service.CodeConflict {
			// Nothing pending (or it is already on): back to /account.
			v, verr := a.accountView(r, p, "mfa-begin", nil, msg)
			if verr != nil {
				a.renderError(w, r, pageStatus(w, verr), a.pageMessage(r, verr))
				return
			}
			a.render(w, r, status, "account", v)
			return
		}
		a.render(w, r, status, "account-mfa", view{Title: "Set up two-factor authentication",
			User: &p.User, Form: f, Error: msg, Data: mfaData{}})
		return
	}
	p.User.MFAEnabled = true
	a.render(w, r, http.StatusOK, "account-mfa", view{Title: "Two-factor authentication is on",
		User: &p.User, Data: mfaData{RecoveryCodes: codes, Enabled: true}})
}

// linkData is the page that leads to a provider to link it.
type linkData struct {
	// URL is the provider's authorization address (the service built it
	// from the provider's configuration).
	URL      template.URL
	Provider string
}

// providerName is the configured name of provider id, or id.
func (a *api) providerName(id string) string {
	for _, pi := range a.svc.Providers() {
		if pi.ID == id {
			return pi.Name
		}
	}
	return id
}
