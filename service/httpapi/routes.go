package httpapi

// routes lists the whole HTTP surface (API.md).
func (a *api) routes() {
	// Every response under /v1/ is marked Cache-Control: no-store by a.common.
	public := a.throttled
	me := a.authed

	a.handleLocal("GET", "/healthz", a.handleHealthz())
	a.handle("GET", "/readyz", a.handleReadyz())
	a.handleLocal("GET", "/openapi.yaml", a.handleOpenAPI())
	a.handleLocal("GET", "/metrics", a.handleMetrics())

	a.handle("POST", "/v1/auth/register", public("register", a.handleRegister()))
	a.handle("POST", "/v1/auth/verify-email", public("verify", a.handleVerifyEmail()))
	a.handle("POST", "/v1/auth/resend-verification", public("resend", a.handleResendVerification()))
	a.handle("POST", "/v1/auth/login", public("login", a.handleLogin()))
	a.handle("POST", "/v1/auth/login/mfa", public("login-mfa", a.handleMFALogin()))
	a.handle("POST", "/v1/auth/magic-link", public("magic-link", a.handleMagicLink()))
	a.handle("POST", "/v1/auth/magic-link/verify", public("magic-link-verify", a.handleVerifyMagicLink()))
	a.handle("POST", "/v1/auth/email/confirm", public("email-confirm", a.handleConfirmEmail()))
	a.handle("POST", "/v1/auth/logout", me(a.handleLogout()))
	a.handle("POST", "/v1/auth/password/forgot", public("forgot", a.handleForgotPassword()))
	a.handle("POST", "/v1/auth/password/reset", public("reset", a.handleResetPassword()))
	a.handleLocal("GET", "/v1/auth/providers", a.handleListProviders())
	a.handle("GET", "/v1/auth/oauth/:provider/start", public("oauth_start", a.handleOAuthStart()))
	a.handle("GET", "/v1/auth/oauth/:provider/callback", public("oauth_callback", a.handleOAuthCallback()))

	a.handle("GET", "/v1/me", me(a.handleGetMe()))
	a.handle("PATCH", "/v1/me", me(a.handleUpdateMe()))
	a.handle("DELETE", "/v1/me", me(a.handleDeleteMe()))
	a.handle("PUT", "/v1/me/password", me(a.handleChangePassword()))
	a.handle("POST", "/v1/me/email", me(a.handleChangeEmail()))
	a.handle("GET", "/v1/me/sessions", me(a.handleListSessions()))
	a.handle("DELETE", "/v1/me/sessions/:id", me(a.handleRevokeSession()))
	a.handle("POST", "/v1/me/accounts/:provider", me(a.handleLinkAccount()))
	a.handle("DELETE", "/v1/me/accounts/:provider", me(a.handleUnlinkAccount()))
	a.handle("POST", "/v1/me/mfa/totp", me(a.handleBeginTOTP()))
	a.handle("POST", "/v1/me/mfa/totp/confirm", me(a.handleConfirmTOTP()))
	a.handle("DELETE", "/v1/me/mfa/totp", me(a.handleDisableTOTP()))
	a.handle("POST", "/v1/me/mfa/recovery-codes", me(a.handleRegenerateRecoveryCodes()))

	a.handle("GET", "/v1/admin/users", a.admin(a.handleListUsers()))
	a.handle("GET", "/v1/admin/users/:id", a.admin(a.handleGetUser()))
	a.handle("PATCH", "/v1/admin/users/:id", a.admin(a.handleUpdateUser()))
	a.handle("DELETE", "/v1/admin/users/:id", a.admin(a.handleDeleteUser()))
	a.handle("GET", "/v1/admin/users/:id/events", a.admin(a.handleListEvents()))
	a.handle("DELETE", "/v1/admin/users/:id/mfa", a.admin(a.handleResetUserMFA()))
}
