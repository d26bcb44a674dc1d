package httpapi

import (
	"errors"
	"net/http"

	"github.com/nextsecure/nextsecure/service"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *api) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, session, err := a.svc.Login(r.Context(), service.LoginInput(req), a.meta(r))
		a.metrics.logins.WithLabelValues(loginOutcome(err)).Inc()
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

// loginOutcome labels a sign-in attempt for the logins metric.
func loginOutcome(err error) string {
	var m *service.MFARequired
	if errors.As(err, &m) {
		return "mfa_required"
	}
	switch service.ErrorCode(err) {
	case "":
		return "success"
	case service.CodeInvalidCreds:
		return "invalid_credentials"
	case service.CodeAccountDisabled:
		return "disabled"
	case service.CodeRateLimited:
		return "rate_limited"
	default:
		return "error"
	}
}

func (a *api) handleForgotPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req emailRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.ForgotPassword(r.Context(), req.Email, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusAccepted, statusResponse{Status: "password_reset_email_sent"})
	})
}

type resetPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (a *api) handleResetPassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req resetPasswordRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.ResetPassword(r.Context(), service.ResetPasswordInput(req), a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
