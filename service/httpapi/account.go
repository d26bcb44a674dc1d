package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nextsecure/nextsecure/service"
)

// optional is a JSON field that tells absent (Set false) from null (Set,
// Value nil) and from a value.
type optional[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON is called only for a field that is present, null included.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

type updateMeRequest struct {
	Name  optional[string] `json:"name"`
	Image optional[string] `json:"image"`
}

func (a *api) handleUpdateMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req updateMeRequest
		err := decode(w, r, &req)
		if err == nil && req.Name.Set && req.Name.Value == nil {
			// A name can be changed but not removed: null is of the wrong type.
			err = fail(codeInvalidJSON, "The request body is not a valid JSON object of the expected fields.")
		}
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		user, err := a.svc.UpdateProfile(r.Context(), principal(r), service.ProfileUpdate{
			Name: req.Name.Value, SetImage: req.Image.Set, Image: req.Image.Value,
		}, a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, toUserJSON(user))
	})
}

// decodeOptional is decode for a route whose body may be omitted: a request
// without a body leaves v as it is, and one with a body is decoded strictly.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	return decode(w, r, v)
}

// reauthError answers a missing or wrong current password with 403: the
// caller is signed in, and a 401 would tell a client its session is gone.
func reauthError(err error) error {
	if service.ErrorCode(err) == service.CodeInvalidCreds {
		return withStatus(http.StatusForbidden, err)
	}
	return err
}

type deleteMeRequest struct {
	Password string `json:"password"`
}

func (a *api) handleDeleteMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req deleteMeRequest
		if err := decodeOptional(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if err := a.svc.DeleteAccount(r.Context(), principal(r), req.Password, a.meta(r)); err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		a.clearSessionCookie(w)
		w.WriteHeader(http.StatusNoContent)
	})
}

type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

func (a *api) handleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req changePasswordRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		err := a.svc.ChangePassword(r.Context(), principal(r), service.ChangePasswordInput(req), a.meta(r))
		if err != nil {
			writeError(w, r, a.log, reauthError(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// sessionInfoJSON is a live session as its owner sees it, without its token.
type sessionInfoJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	UserAgent  string    `json:"userAgent"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

type sessionListResponse struct {
	Sessions []sessionInfoJSON `json:"sessions"`
}

func (a *api) handleListSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessions, err := a.svc.ListSessions(r.Context(), principal(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		res := sessionListResponse{Sessions: make([]sessionInfoJSON, len(sessions))}
		for i, s := range sessions {
			res.Sessions[i] = sessionInfoJSON{
				ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
				UserAgent: s.UserAgent, IP: s.IP, Current: s.Current,
			}
		}
		encode(w, http.StatusOK, res)
	})
}

func (a *api) handleRevokeSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, id := principal(r), httprouter.ParamsFromContext(r.Context()).ByName("id")
		if err := a.svc.RevokeSession(r.Context(), p, id, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		if id == p.SessionID {
			a.clearSessionCookie(w)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *api) handleUnlinkAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider := httprouter.ParamsFromContext(r.Context()).ByName("provider")
		if err := a.svc.UnlinkAccount(r.Context(), principal(r), provider, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
