package httpapi

import "net/http"

// Handlers not built yet; each answers 404 until its workflow lands.
func (a *api) notYet() http.Handler { return a.router.NotFound }

func (a *api) handleLogin() http.Handler          { return a.notYet() }
func (a *api) handleForgotPassword() http.Handler { return a.notYet() }
func (a *api) handleResetPassword() http.Handler  { return a.notYet() }
func (a *api) handleUpdateMe() http.Handler       { return a.notYet() }
func (a *api) handleDeleteMe() http.Handler       { return a.notYet() }
func (a *api) handleChangePassword() http.Handler { return a.notYet() }
func (a *api) handleListSessions() http.Handler   { return a.notYet() }
func (a *api) handleRevokeSession() http.Handler  { return a.notYet() }
func (a *api) handleUnlinkAccount() http.Handler  { return a.notYet() }
