package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Helpers of the link and second-factor page tests.

// withAuthSecret gives the service AUTH_SECRET, which two-factor and
// providers need.
func withLinkAuthSecret(t *testing.T) func(*service.Config) {
	t.Helper()
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	return func(cfg *service.Config) { cfg.Secrets = keys }
}

// linkProviders is a page stack with the fake providers ("corp", OpenID
// Connect, and "github") configured for its own address.
type linkProviders struct {
	env  *env
	corp *oauthtest.OIDC
	gh   *oauthtest.GitHub
}

// newPageProviders starts a page stack whose service knows the fake
// providers; they accept only its callbacks and read its clock.
func newLinkProviders(t *testing.T) *linkProviders {
	t.Helper()
	p := &linkProviders{
		corp: oauthtest.NewOIDC(t, corpClientID, corpClientSecret),
		gh:   oauthtest.NewGitHub(t, ghClientID, ghClientSecret),
	}
	p.env = newPageEnv(t, withLinkAuthSecret(t), func(cfg *service.Config) {
		// BASE_URL is the page stack's own address by now.
		p.corp.SetRedirectURI(cfg.BaseURL + "/v1/auth/oauth/corp/callback")
		p.gh.SetRedirectURI(cfg.BaseURL + "/v1/auth/oauth/github/callback")
		cfg.Providers = []service.ProviderConfig{
			{ID: "github", Type: "oauth", Name: "GitHub", ClientID: ghClientID, ClientSecret: ghClientSecret,
				WebURL: p.gh.WebURL(), APIURL: p.gh.APIURL()},
			{ID: "corp", Type: "oidc", Name: "Corp SSO", ClientID: corpClientID, ClientSecret: corpClientSecret,
				Issuer: p.corp.Issuer()},
		}
	})
	t.Cleanup(p.env.svc.Close)
	p.corp.SetClock(p.env.clock.Now)
	p.gh.SetClock(p.env.clock.Now)
	return p
}

// changeEmail asks, as the user of session token, to change the email to
// addr (the user's password is goodPassword).
func requestEmailChange(t *testing.T, e *env, token, addr string) {
	t.Helper()
	e.do(req{method: "POST", path: "/v1/me/email", token: token,
		body: map[string]string{"email": addr, "password": goodPassword}}).wantStatus(t, http.StatusAccepted)
}
