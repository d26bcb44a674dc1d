package httpapi

import (
	"net/http"

	"github.com/nextsecure/nextsecure/service"
)

// Magic sign-in links and email change (API.md, "Magic link and email change").

func (a *api) handleMagicLink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req emailRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.RequestMagicLink(r.Context(), req.Email, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusAccepted, statusResponse{Status: "magic_link_sent"})
	})
}

func (a *api) handleVerifyMagicLink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tokenRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, session, err := a.svc.VerifyMagicLink(r.Context(), req.Token, a.meta(r))
		if writeMFARequired(w, err) {
			return
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.setSessionCookie(w, session)
		encode(w, http.StatusOK, authResponse{User: toUserJSON(user), Session: toSessionJSON(session)})
	})
}

type changeEmailRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *api) handleChangeEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req changeEmailRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		err := a.svc.RequestEmailChange(r.Context(), principal(r), service.ChangeEmailInput(req), a.meta(r))
		if err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		encode(w, http.StatusAccepted, statusResponse{Status: "email_change_sent"})
	})
}

func (a *api) handleConfirmEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tokenRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, err := a.svc.ConfirmEmailChange(r.Context(), req.Token, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, toUserJSON(user))
	})
}
