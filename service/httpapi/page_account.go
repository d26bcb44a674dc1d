package httpapi

import "net/http"

// The self-service page, /account.

func (a *api) accountPages() {
	a.page("/account", a.signedInPage(a.handleAccountPage()), nil)
}

// accountData is /account's own data.
type accountData struct{}

func (a *api) handleAccountPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pagePrincipal(r)
		a.render(w, r, http.StatusOK, "account", view{Title: "Your account", User: &p.User, Form: newForm(r),
			Data: accountData{}})
	})
}
