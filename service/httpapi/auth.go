package httpapi

import (
	"net/http"
	"strings"
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

// setSessionCookie hands a session to a browser, when it is opened and
// again whenever its expiry slides: HttpOnly, SameSite=Lax, Path=/, Secure
// when BASE_URL is https, and Expires and Max-Age at the session's expiry
// (Max-Age counted on the service's clock).
func (a *api) setSessionCookie(w http.ResponseWriter, s service.SessionToken) {
	maxAge := int(s.ExpiresAt.Sub(a.svc.Now()) / time.Second)
	if maxAge <= 0 {
		maxAge = -1 // already expired: delete it (0 would mean no Max-Age)
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.Token, Path: "/", Expires: s.ExpiresAt,
		MaxAge: maxAge, HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// clearSessionCookie removes the session cookie from a browser, replacing
// a renewal the authentication set earlier in the same response (one
// Set-Cookie per cookie name, RFC 6265).
func (a *api) clearSessionCookie(w http.ResponseWriter) {
	var keep []string
	for _, v := range w.Header().Values("Set-Cookie") {
		if !strings.HasPrefix(v, sessionCookie+"=") {
			keep = append(keep, v)
		}
	}
	w.Header().Del("Set-Cookie")
	for _, v := range keep {
		w.Header().Add("Set-Cookie", v)
	}
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
