package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nextsecure/nextsecure/service"
)

// mfaCookie carries a provider sign-in's mfa token to the /login/mfa page.
const mfaCookie = "mfa_token"

// mfaRequiredResponse is the answer to a right first factor when the user
// has two-factor on: no session yet.
type mfaRequiredResponse struct {
	MFARequired bool      `json:"mfaRequired"`
	MFAToken    string    `json:"mfaToken"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// writeMFARequired answers err with 200 mfaRequired when it is an
// *service.MFARequired, and reports whether it did.
func writeMFARequired(w http.ResponseWriter, err error) bool {
	var m *service.MFARequired
	if !errors.As(err, &m) {
		return false
	}
	encode(w, http.StatusOK, mfaRequiredResponse{MFARequired: true, MFAToken: m.Token, ExpiresAt: m.ExpiresAt.UTC()})
	return true
}

// setMFACookie hands a provider sign-in's mfa token to the browser:
// HttpOnly, SameSite=Lax, Path=/, Secure when BASE_URL is https, 5 minutes.
func (a *api) setMFACookie(w http.ResponseWriter, m *service.MFARequired) {
	http.SetCookie(w, &http.Cookie{
		Name: mfaCookie, Value: m.Token, Path: "/", Expires: m.ExpiresAt,
		MaxAge: 300, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *api) clearMFACookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: mfaCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

type mfaLoginRequest struct {
	MFAToken     string `json:"mfaToken"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recoveryCode"`
}

// handleMFALogin finishes a sign-in with its second factor; the mfa token
// comes from the body, or from the mfa_token cookie when the body has none.
func (a *api) handleMFALogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req mfaLoginRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		fromCookie := false
		if req.MFAToken == "" {
			if c, err := r.Cookie(mfaCookie); err == nil {
				req.MFAToken, fromCookie = c.Value, true
			}
		}
		user, session, err := a.svc.CompleteMFALogin(r.Context(), service.MFALoginInput{
			Token: req.MFAToken, Code: req.Code, RecoveryCode: req.RecoveryCode,
		}, a.meta(r))
		a.metrics.logins.WithLabelValues(mfaOutcome(err)).Inc()
		if err != nil {
			if fromCookie && service.ErrorCode(err) == service.CodeInvalidToken {
				a.clearMFACookie(w)
			}
			writeError(w, r, a.log, err)
			return
		}
		if fromCookie {
			a.clearMFACookie(w)
		}
		a.setSessionCookie(w, session)
		encode(w, http.StatusOK, authResponse{User: toUserJSON(user), Session: toSessionJSON(session)})
	})
}

// mfaOutcome labels a second-factor attempt for the logins metric.
func mfaOutcome(err error) string {
	switch service.ErrorCode(err) {
	case "":
		return "mfa_success"
	case service.CodeInvalidCode:
		return "mfa_invalid_code"
	case service.CodeInvalidToken:
		return "mfa_invalid_token"
	default:
		return loginOutcome(err)
	}
}

type passwordRequest struct {
	Password string `json:"password"`
}

type totpSetupResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauthUrl"`
	QRCode     string `json:"qrCode"`
}

func (a *api) handleBeginTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req passwordRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		setup, err := a.svc.BeginTOTP(r.Context(), principal(r), req.Password, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		encode(w, http.StatusOK, totpSetupResponse(setup))
	})
}

type codeRequest struct {
	Code string `json:"code"`
}

type recoveryCodesResponse struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

func (a *api) handleConfirmTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req codeRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		codes, err := a.svc.ConfirmTOTP(r.Context(), principal(r), req.Code, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	})
}

type passwordCodeRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (a *api) handleDisableTOTP() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req passwordCodeRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.DisableTOTP(r.Context(), principal(r), req.Password, req.Code, a.meta(r)); err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *api) handleRegenerateRecoveryCodes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req passwordCodeRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		codes, err := a.svc.RegenerateRecoveryCodes(r.Context(), principal(r), req.Password, req.Code, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		encode(w, http.StatusOK, recoveryCodesResponse{RecoveryCodes: codes})
	})
}

func (a *api) handleResetUserMFA() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := httprouter.ParamsFromContext(r.Context()).ByName("id")
		if err := a.svc.ResetMFA(r.Context(), principal(r).User.ID, id, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
