package httpapi

import "net/http"

// Admin handlers not built yet.
func (a *api) handleListUsers() http.Handler  { return a.notYet() }
func (a *api) handleGetUser() http.Handler    { return a.notYet() }
func (a *api) handleUpdateUser() http.Handler { return a.notYet() }
func (a *api) handleDeleteUser() http.Handler { return a.notYet() }
func (a *api) handleListEvents() http.Handler { return a.notYet() }
