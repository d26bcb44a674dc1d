package httpapi

import (
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/nextsecure/nextsecure/service"
)

// flowCookie binds a provider flow to the browser that started it; it
// holds a secret whose hash the server keeps with the flow.
const flowCookie = "oauth_flow"

// flowCookiePath confines the flow cookie to the provider routes.
const flowCookiePath = "/v1/auth/oauth/"

type providerJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type providersResponse struct {
	Providers []providerJSON `json:"providers"`
}

func (a *api) handleListProviders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps := a.svc.Providers()
		out := providersResponse{Providers: make([]providerJSON, len(ps))}
		for i, p := range ps {
			out.Providers[i] = providerJSON(p)
		}
		encode(w, http.StatusOK, out)
	})
}

// setFlowCookie hands the browser its flow secret: HttpOnly, SameSite=Lax
// (the provider's redirect back is a top-level GET, which Lax lets carry
// it), Path /v1/auth/oauth/, Secure when BASE_URL is https, 10 minutes.
func (a *api) setFlowCookie(w http.ResponseWriter, binding string) {
	http.SetCookie(w, &http.Cookie{
		Name: flowCookie, Value: binding, Path: flowCookiePath, MaxAge: int(service.OAuthFlowTTL.Seconds()),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *api) clearFlowCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: flowCookie, Value: "", Path: flowCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// redirect answers 302 to an absolute URL, without a body, so HEAD and GET
// answer alike.
func redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusFound)
}

func (a *api) handleOAuthStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider := httprouter.ParamsFromContext(r.Context()).ByName("provider")
		start, err := a.svc.StartOAuth(r.Context(), provider, r.URL.Query().Get("redirectTo"))
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.setFlowCookie(w, start.Binding)
		redirect(w, start.URL)
	})
}

type linkResponse struct {
	URL string `json:"url"`
}

func (a *api) handleLinkAccount() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider := httprouter.ParamsFromContext(r.Context()).ByName("provider")
		start, err := a.svc.StartLink(r.Context(), principal(r), provider)
		if err != nil {
			writeError(w, r, a.log, err)
			return
		}
		a.setFlowCookie(w, start.Binding)
		encode(w, http.StatusOK, linkResponse{URL: start.URL})
	})
}

// handleOAuthCallback finishes a provider flow. It always redirects: to
// the flow's redirectTo with the session cookie, or to /login?error=CODE;
// every failure is logged at warning with its reason (never a token). It
// clears the flow cookie once the flow it binds is used up.
func (a *api) handleOAuthCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider := httprouter.ParamsFromContext(r.Context()).ByName("provider")
		q := r.URL.Query()
		cb := service.OAuthCallback{Code: q.Get("code"), State: q.Get("state"), Error: q.Get("error")}
		if c, err := r.Cookie(flowCookie); err == nil {
			cb.Binding = c.Value
		}
		res, err := a.svc.FinishOAuth(r.Context(), provider, cb, a.meta(r))
		// The cookie goes only with the flow it bound: a stray callback
		// (unknown state, a cross-site link) leaves a flow in progress.
		if err == nil || service.FlowConsumed(err) {
			a.clearFlowCookie(w)
		}
		outcome := "success"
		if err != nil {
			code := service.CallbackCode(err)
			outcome = string(code)
			a.log.WarnContext(r.Context(), "provider sign-in failed", "provider", provider, "code", code, "err", err)
			a.metrics.providerLogins.WithLabelValues(outcome).Inc()
			redirect(w, a.cfg.BaseURL+"/login?error="+url.QueryEscape(string(code)))
			return
		}
		if res.MFA != nil {
			// Two-factor on: the page at /login/mfa finishes the sign-in
			// with the token it finds in the cookie.
			a.metrics.providerLogins.WithLabelValues("mfa_required").Inc()
			a.setMFACookie(w, res.MFA)
			redirect(w, a.cfg.BaseURL+"/login/mfa")
			return
		}
		a.metrics.providerLogins.WithLabelValues(outcome).Inc()
		a.setSessionCookie(w, res.Session)
		redirect(w, a.cfg.BaseURL+res.RedirectTo)
	})
}
