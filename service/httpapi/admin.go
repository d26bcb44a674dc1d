package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/nextsecure/nextsecure/service"
)

// pageLimit reads the limit query parameter: absent or empty is the default
// page size; anything that is not a whole number is passed on as 0, which
// the service refuses with a field error like any out-of-range limit.
func pageLimit(query url.Values) int {
	raw := query.Get("limit")
	if raw == "" {
		return service.DefaultPageLimit
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0
	}
	return n
}

// nullable is s as JSON: null when empty.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type userListResponse struct {
	Users      []userJSON `json:"users"`
	NextCursor *string    `json:"nextCursor"`
}

func (a *api) handleListUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query := r.URL.Query()
		page, err := a.svc.ListUsers(r.Context(), service.ListUsersInput{
			Query: query.Get("q"), Limit: pageLimit(query), Cursor: query.Get("cursor"),
		})
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		res := userListResponse{Users: make([]userJSON, len(page.Users)), NextCursor: nullable(page.NextCursor)}
		for i, u := range page.Users {
			res.Users[i] = toUserJSON(u)
		}
		encode(w, http.StatusOK, res)
	})
}

func (a *api) handleGetUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := a.svc.GetUser(r.Context(), httprouter.ParamsFromContext(r.Context()).ByName("id"))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, toUserJSON(user))
	})
}

type updateUserRequest struct {
	Role     *string `json:"role"`
	IsActive *bool   `json:"isActive"`
}

func (a *api) handleUpdateUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req updateUserRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		id := httprouter.ParamsFromContext(r.Context()).ByName("id")
		user, err := a.svc.UpdateUser(r.Context(), principal(r), id, service.UserChange(req), a.meta(r))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		encode(w, http.StatusOK, toUserJSON(user))
	})
}

func (a *api) handleDeleteUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := httprouter.ParamsFromContext(r.Context()).ByName("id")
		if err := a.svc.DeleteUser(r.Context(), principal(r), id, a.meta(r)); err != nil {
			writeError(w, r, a.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// eventJSON is one audit event of the contract.
type eventJSON struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"userAgent"`
	ActorID   *string   `json:"actorId"`
	Detail    string    `json:"detail"`
}

type eventListResponse struct {
	Events     []eventJSON `json:"events"`
	NextCursor *string     `json:"nextCursor"`
}

func (a *api) handleListEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query := r.URL.Query()
		id := httprouter.ParamsFromContext(r.Context()).ByName("id")
		page, err := a.svc.ListUserEvents(r.Context(), id, pageLimit(query), query.Get("cursor"))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		res := eventListResponse{Events: make([]eventJSON, len(page.Events)), NextCursor: nullable(page.NextCursor)}
		for i, e := range page.Events {
			res.Events[i] = eventJSON{
				ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC(), IP: e.IP, UserAgent: e.UserAgent,
				ActorID: nullable(e.ActorID), Detail: e.Detail,
			}
		}
		encode(w, http.StatusOK, res)
	})
}
