package httpapi

import (
	"net/http"
)

func (a *api) handleGetMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		encode(w, http.StatusOK, toUserJSON(principal(r).User))
	})
}
