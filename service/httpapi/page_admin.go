package httpapi

import (
	"net/http"
	"net/url"

	"github.com/nextsecure/nextsecure/service"
)

// The administration page, /admin: the users, newest first, searched and
// paged as GET /v1/admin/users, with a form per change (role, activation,
// two-factor reset) that calls the same service functions as the JSON admin
// routes.

func (a *api) adminPages() {
	a.page("/admin", a.signedInPage(a.adminOnly(a.handleAdminPage())), a.signedInPage(a.adminOnly(a.handleAdminPost())))
}

// adminOnly refuses a signed-in browser whose user is not an admin with a
// 403 page, as a.admin refuses the JSON routes.
func (a *api) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pagePrincipal(r)
		if p.User.Role != service.RoleAdmin {
			a.render(w, r, http.StatusForbidden, "error", view{
				Title: "Administrators only", User: &p.User,
				Error: "Only administrators can open this page.",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminData is /admin's own data.
type adminData struct {
	Users []service.User
	// Me is the signed-in admin's id: their own row is marked.
	Me string
	// Query, Cursor and Limit select the page shown; the forms send them
	// back so the page after a change is the same one.
	Query, Cursor, Limit string
	// First is the address of the first page of the listing; Next that
	// of the next page, "" on the last one.
	First, Next string
}

// adminListing reads the listing the request selects: from the address on
// a GET, from the form's hidden fields on a POST.
func adminListing(r *http.Request) (q, cursor, limit string) {
	if r.Method == http.MethodPost {
		return r.PostFormValue("q"), r.PostFormValue("cursor"), r.PostFormValue("limit")
	}
	query := r.URL.Query()
	return query.Get("q"), query.Get("cursor"), query.Get("limit")
}

// adminPath is /admin showing the listing q, cursor, limit.
func adminPath(q, cursor, limit string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit != "" {
		v.Set("limit", limit)
	}
	if len(v) == 0 {
		return "/admin"
	}
	return "/admin?" + v.Encode()
}

// renderAdmin shows the listing the request selects with status, msg as
// the page's message; a listing that cannot be read shows its own error.
func (a *api) renderAdmin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := pagePrincipal(r)
	q, cursor, limit := adminListing(r)
	f := &form{Values: map[string]string{"q": q}, Errors: map[string]string{}}
	data := adminData{Me: p.User.ID, Query: q, Cursor: cursor, Limit: limit, First: adminPath(q, "", limit)}
	lim := service.DefaultPageLimit
	if limit != "" {
		lim = pageLimit(url.Values{"limit": {limit}})
	}
	page, err := a.svc.ListUsers(r.Context(), service.ListUsersInput{Query: q, Limit: lim, Cursor: cursor})
	if err != nil {
		status = pageStatus(w, err)
		e := service.AsError(err)
		if e.Code == service.CodeValidation {
			// A search that is too long belongs next to the search box;
			// a bad cursor or limit (an edited address) starts over.
			for _, fe := range e.Fields {
				if fe.Field == "q" {
					f.fail("q", fe.Message)
				} else if msg == "" {
					msg = "That page of the list does not exist; start again from the first page."
				}
			}
		} else if msg == "" {
			msg = a.pageMessage(r, err)
		}
	} else {
		data.Users = page.Users
		if page.NextCursor != "" {
			data.Next = adminPath(q, page.NextCursor, limit)
		}
	}
	a.render(w, r, status, "admin", view{Title: "Users", User: &p.User, Form: f, Error: msg, Data: data})
}

func (a *api) handleAdminPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.renderAdmin(w, r, http.StatusOK, "")
	})
}

// handleAdminPost applies one change to one user, named by the form's
// action and id, then shows the same listing again (post, redirect, get).
// A refusal (the last admin, a user gone meanwhile) is shown on the page.
func (a *api) handleAdminPost() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pagePrincipal(r)
		id := r.PostFormValue("id")
		flash := "user_updated"
		var err error
		switch r.PostFormValue("action") {
		case "role":
			role := r.PostFormValue("role")
			_, err = a.svc.UpdateUser(r.Context(), p, id, service.UserChange{Role: &role}, a.meta(r))
		case "activate", "deactivate":
			active := r.PostFormValue("action") == "activate"
			_, err = a.svc.UpdateUser(r.Context(), p, id, service.UserChange{IsActive: &active}, a.meta(r))
		case "reset-mfa":
			flash = "user_mfa_reset"
			err = a.svc.ResetMFA(r.Context(), p.User.ID, id, a.meta(r))
		default:
			a.renderAdmin(w, r, http.StatusBadRequest, "That change is not one this page makes.")
			return
		}
		if err != nil {
			msg := a.pageMessage(r, err)
			if e := service.AsError(err); e.Code == service.CodeValidation && len(e.Fields) > 0 {
				msg = e.Fields[0].Message
			}
			a.renderAdmin(w, r, pageStatus(w, err), msg)
			return
		}
		a.setFlash(w, flash)
		q, cursor, limit := adminListing(r)
		seeOther(w, r, adminPath(q, cursor, limit))
	})
}
