package httpapi

import (
	"net/http"
	"time"

	"github.com/nextsecure/nextsecure/service"
)

type registerRequest struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *api) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req registerRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		err := a.svc.Register(r.Context(), service.RegisterInput(req), a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusAccepted, statusResponse{Status: "verification_email_sent"})
	})
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (a *api) handleVerifyEmail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req tokenRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, session, err := a.svc.VerifyEmail(r.Context(), req.Token, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.setSessionCookie(w, session)
		encode(w, http.StatusCreated, authResponse{User: toUserJSON(user), Session: toSessionJSON(session)})
	})
}

type emailRequest struct {
	Email string `json:"email"`
}

func (a *api) handleResendVerification() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req emailRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.ResendVerification(r.Context(), req.Email, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusAccepted, statusResponse{Status: "verification_email_sent"})
	})
}

func toSessionJSON(s service.SessionToken) sessionJSON {
	return sessionJSON{Token: s.Token, ExpiresAt: s.ExpiresAt.UTC()}
}

// setSessionCookie hands a new session to a browser: HttpOnly, SameSite=Lax,
// Path=/, and Secure when BASE_URL is https.
func (a *api) setSessionCookie(w http.ResponseWriter, s service.SessionToken) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.Token, Path: "/", Expires: s.ExpiresAt,
		MaxAge: int(time.Until(s.ExpiresAt).Seconds()), HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearSessionCookie removes the session cookie from a browser.
func (a *api) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

func (a *api) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.svc.Logout(r.Context(), principal(r), a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.clearSessionCookie(w)
		w.WriteHeader(http.StatusNoContent)
	})
}
