package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/nextsecure/nextsecure/docs"
	"github.com/nextsecure/nextsecure/internal/oauthtest"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Helpers of the provider sign-in tests (issue 10): a stack with a fake
// OpenID Connect provider ("corp") and a fake GitHub ("github"), and a
// browser that walks the redirects one by one.

// testAuthSecret is AUTH_SECRET in these tests.
const testAuthSecret = "oauth-tests-auth-secret-0123456789-abcdefghij"

// The fakes' client credentials as the service is configured with them.
const (
	corpClientID, corpClientSecret = "corp-client", "corp-secret"
	ghClientID, ghClientSecret     = "gh-client", "gh-secret"
)

// oauthEnv is env with the two fake providers configured.
type oauthEnv struct {
	*env
	corp      *oauthtest.OIDC
	gh        *oauthtest.GitHub
	configure func(*service.Config) // what newOAuthEnv set, for more instances
}

// newOAuthEnv starts a stack whose service knows the fake providers;
// configure, when given, changes its settings afterwards (on every instance).
func newOAuthEnv(t *testing.T, configure ...func(*service.Config)) *oauthEnv {
	t.Helper()
	o := &oauthEnv{
		corp: oauthtest.NewOIDC(t, corpClientID, corpClientSecret),
		gh:   oauthtest.NewGitHub(t, ghClientID, ghClientSecret),
	}
	o.corp.SetRedirectURI(baseURL + "/v1/auth/oauth/corp/callback")
	o.gh.SetRedirectURI(baseURL + "/v1/auth/oauth/github/callback")
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	o.configure = func(cfg *service.Config) {
		cfg.Secrets = keys
		// An issuer coming back is noticed within 100 ms, however long it
		// was down, so TestOAuthDiscoveryDown does not depend on the load.
		cfg.ProviderRetryMax = 100 * time.Millisecond
		cfg.Providers = []service.ProviderConfig{
			{ID: "github", Type: "oauth", Name: "GitHub", ClientID: ghClientID, ClientSecret: ghClientSecret,
				WebURL: o.gh.WebURL(), APIURL: o.gh.APIURL()},
			{ID: "corp", Type: "oidc", Name: "Corp SSO", ClientID: corpClientID, ClientSecret: corpClientSecret,
				Issuer: o.corp.Issuer()},
		}
		for _, f := range configure {
			f(cfg)
		}
	}
	o.env = newEnv(t, o.configure)
	t.Cleanup(o.svc.Close)
	// The fakes read the stack's clock, so ID tokens and codes age with it.
	o.corp.SetClock(o.clock.Now)
	o.gh.SetClock(o.clock.Now)
	return o
}

// instance starts another server instance on the same database, clock and
// providers, as a second replica would be.
func (o *oauthEnv) instance() *oauthEnv {
	o.t.Helper()
	other := *o
	other.env = o.instanceWith(o.configure, nil)
	o.t.Cleanup(other.svc.Close)
	return &other
}

// browser is a user agent with its own cookies that stops at every redirect.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send makes a request to e's server with the browser's cookies and checks
// the answer against the contract. path may be a full URL on BASE_URL,
// which is rewritten to e's server.
func (b *browser) send(e *env, method, path string, r req) *response {
	b.t.Helper()
	path = strings.TrimPrefix(path, baseURL)
	var raw []byte
	var body io.Reader
	if r.body != nil {
		raw = []byte(r.body.(string))
		body = strings.NewReader(r.body.(string))
	}
	hr, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if raw != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := b.client.Do(hr)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	resp := &response{Status: res.StatusCode, Header: res.Header, Body: got}
	if (strings.HasPrefix(hr.URL.Path, "/v1/auth/") || strings.HasPrefix(hr.URL.Path, "/v1/me")) &&
		!strings.Contains(res.Header.Get("Cache-Control"), "no-store") {
		b.t.Errorf("%s %s: Cache-Control %q, want no-store", method, hr.URL.Path, res.Header.Get("Cache-Control"))
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		b.t.Errorf("%s %s answered %d %s", method, hr.URL.Path, res.StatusCode, truncate(got))
	}
	if documented(b.t, hr) {
		checkContract(b.t, hr, raw, resp)
	}
	return resp
}

var (
	documentedOnce   sync.Once
	documentedRouter routers.Router
)

// documented reports whether openapi.yaml has hr's route. The browser checks
// answers against the contract only then, so these tests say what the
// feature does even before its routes are documented;
// TestOAuthRoutesDocumented fails until they are.
func documented(t *testing.T, hr *http.Request) bool {
	t.Helper()
	documentedOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
		if err != nil {
			return
		}
		doc.Servers = openapi3.Servers{{URL: "/"}}
		documentedRouter, _ = legacy.NewRouter(doc)
	})
	if documentedRouter == nil {
		return true // let checkContract report the broken document
	}
	vr := hr.Clone(context.Background())
	vr.URL.Scheme, vr.URL.Host, vr.Host = "", "", ""
	_, _, err := documentedRouter.FindRoute(vr)
	return err == nil
}

// get is send for a GET without a body.
func (b *browser) get(e *env, path string) *response {
	b.t.Helper()
	return b.send(e, "GET", path, req{})
}

// start asks e to start a sign-in with provider; redirectTo is sent when
// not "".
func (b *browser) start(e *env, provider, redirectTo string) *response {
	b.t.Helper()
	path := "/v1/auth/oauth/" + provider + "/start"
	if redirectTo != "" {
		path += "?redirectTo=" + url.QueryEscape(redirectTo)
	}
	return b.get(e, path)
}

// mustStart starts a sign-in and returns the authorization URL it leads to.
func (b *browser) mustStart(e *env, provider, redirectTo string) string {
	b.t.Helper()
	r := b.start(e, provider, redirectTo)
	r.wantStatus(b.t, http.StatusFound)
	return r.Header.Get("Location")
}

// authorize visits the provider's authorization URL, where the fake
// approves (or denies), and returns the callback URL it redirects to, on
// BASE_URL.
func (b *browser) authorize(authURL string) string {
	b.t.Helper()
	res, err := b.client.Get(authURL)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		b.t.Fatalf("the provider answered %d %s to %s, want 302", res.StatusCode, body, authURL)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, baseURL+"/v1/auth/oauth/") {
		b.t.Fatalf("the provider redirected to %s, want a callback on %s", loc, baseURL)
	}
	return loc
}

// signIn runs a whole flow with provider: start on e, the provider, the
// callback on e; it returns the callback's response.
func (b *browser) signIn(e *env, provider, redirectTo string) *response {
	b.t.Helper()
	return b.get(e, b.authorize(b.mustStart(e, provider, redirectTo)))
}

// link starts, as the signed-in user of token, a flow that links provider,
// and returns the response of POST /v1/me/accounts/{provider}.
func (b *browser) link(e *env, provider, token string) *response {
	b.t.Helper()
	return b.send(e, "POST", "/v1/me/accounts/"+provider, req{token: token})
}

// mustLink runs a whole link flow and returns the callback's response.
func (b *browser) mustLink(e *env, provider, token string) *response {
	b.t.Helper()
	r := b.link(e, provider, token)
	r.wantStatus(b.t, http.StatusOK)
	var body struct {
		URL string `json:"url"`
	}
	r.JSON(b.t, &body)
	return b.get(e, b.authorize(body.URL))
}

// sessionCookie returns the value of the session cookie r sets, or "".
func sessionCookie(r *response) string {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "session" && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// wantSignedIn fails unless r redirects to BASE_URL + redirectTo with a
// session cookie, and returns the session token.
func wantSignedIn(t *testing.T, r *response, redirectTo string) string {
	t.Helper()
	if r.Status != http.StatusFound {
		t.Fatalf("callback answered %d %s, want 302", r.Status, truncate(r.Body))
	}
	if loc := r.Header.Get("Location"); loc != baseURL+redirectTo {
		t.Fatalf("callback redirected to %s, want %s", loc, baseURL+redirectTo)
	}
	token := sessionCookie(r)
	if token == "" {
		t.Fatalf("callback set no session cookie (Set-Cookie %q)", r.Header.Values("Set-Cookie"))
	}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "session" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/") {
			t.Errorf("session cookie %+v, want HttpOnly, SameSite=Lax, Path=/", c)
		}
	}
	return token
}

// wantOAuthError fails unless r redirects to the login page with code and
// sets no session.
func wantOAuthError(t *testing.T, r *response, code string) {
	t.Helper()
	if r.Status != http.StatusFound {
		t.Fatalf("callback answered %d %s, want 302 to /login?error=%s", r.Status, truncate(r.Body), code)
	}
	if loc, want := r.Header.Get("Location"), baseURL+"/login?error="+code; loc != want {
		t.Fatalf("callback redirected to %s, want %s", loc, want)
	}
	if s := sessionCookie(r); s != "" {
		t.Errorf("a failed callback set a session cookie")
	}
}

// oauthUser is the user object with the fields these tests look at.
type oauthUser struct {
	ID            string  `json:"id"`
	Name          *string `json:"name"`
	Email         string  `json:"email"`
	EmailVerified *string `json:"emailVerified"`
	Image         *string `json:"image"`
	IsActive      bool    `json:"isActive"`
	Role          string  `json:"role"`
	HasPassword   bool    `json:"hasPassword"`
	Accounts      []struct {
		Provider string `json:"provider"`
		Type     string `json:"type"`
	} `json:"accounts"`
}

// providers lists the user's account providers.
func (u oauthUser) providers() string {
	var p []string
	for _, a := range u.Accounts {
		p = append(p, a.Provider+":"+a.Type)
	}
	return strings.Join(p, ",")
}

// whoami returns the user a session token belongs to.
func (e *env) whoami(token string) oauthUser {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/v1/me", token: token})
	r.wantStatus(e.t, http.StatusOK)
	var u oauthUser
	r.JSON(e.t, &u)
	return u
}

// count runs a SELECT count(*) ... query.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// providerAccountUser returns the user id linked to a provider account, or "".
func (e *env) providerAccountUser(provider, accountID string) string {
	e.t.Helper()
	var id string
	err := e.pool.QueryRow(context.Background(), `SELECT COALESCE(
		(SELECT user_id FROM accounts WHERE provider = $1 AND provider_account_id = $2), '')`,
		provider, accountID).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// getAsync is get for goroutines: it never stops the test (a transport
// error is reported and gives nil) and checks no contract.
func (b *browser) getAsync(e *env, path string) *response {
	res, err := b.client.Get(e.srv.URL + strings.TrimPrefix(path, baseURL))
	if err != nil {
		b.t.Error(err)
		return nil
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Header: res.Header, Body: body}
}
