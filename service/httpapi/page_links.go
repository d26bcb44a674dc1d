package httpapi

// The pages emailed links and second factors lead to: /forgot-password,
// /reset-password, /magic-link, /confirm-email and /login/mfa.

func (a *api) linkPages() {}
