package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
	"github.com/nextsecure/nextsecure/service"
)

// Sign-in with a provider (issue 10, API.md "Sign-in with a provider"),
// end to end: the real router and service on PostgreSQL, fake providers on
// loopback, and a browser that follows each redirect by hand.

// TestOAuthRoutesDocumented: docs/openapi.yaml describes the routes.
func TestOAuthRoutesDocumented(t *testing.T) {
	t.Parallel()
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/auth/providers"},
		{"GET", "/v1/auth/oauth/corp/start"},
		{"GET", "/v1/auth/oauth/corp/callback"},
		{"POST", "/v1/me/accounts/corp"},
	} {
		hr, _ := http.NewRequest(r.method, "http://x"+r.path, nil)
		if !documented(t, hr) {
			t.Errorf("openapi.yaml lacks %s %s", r.method, r.path)
		}
	}
}

func TestOAuthProviders(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	r := newBrowser(t).get(o.env, "/v1/auth/providers")
	r.wantStatus(t, http.StatusOK)
	want := `{"providers":[{"id":"github","name":"GitHub","type":"oauth"},{"id":"corp","name":"Corp SSO","type":"oidc"}]}`
	if got := strings.TrimSpace(string(r.Body)); got != want {
		t.Errorf("providers = %s, want %s", got, want)
	}

	// Without providers the list is empty, not null.
	e := newEnv(t)
	r = newBrowser(t).get(e, "/v1/auth/providers")
	r.wantStatus(t, http.StatusOK)
	if got := strings.TrimSpace(string(r.Body)); got != `{"providers":[]}` {
		t.Errorf("providers = %s, want none", got)
	}
}

func TestOAuthStartRedirect(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for _, tt := range []struct {
		provider, endpoint, clientID string
		oidc                         bool
	}{
		{"corp", o.corp.Issuer() + "/authorize", corpClientID, true},
		{"github", o.gh.WebURL() + "/login/oauth/authorize", ghClientID, false},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			b := newBrowser(t)
			r := b.start(o.env, tt.provider, "/welcome")
			r.wantStatus(t, http.StatusFound)
			loc, err := url.Parse(r.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != tt.endpoint {
				t.Errorf("redirected to %s, want %s", got, tt.endpoint)
			}
			q := loc.Query()
			for k, want := range map[string]string{
				"response_type": "code", "client_id": tt.clientID, "code_challenge_method": "S256",
				"redirect_uri": baseURL + "/v1/auth/oauth/" + tt.provider + "/callback",
			} {
				if q.Get(k) != want {
					t.Errorf("%s = %q, want %q", k, q.Get(k), want)
				}
			}
			if len(q.Get("state")) < 40 || len(q.Get("code_challenge")) != 43 {
				t.Errorf("state %q, code_challenge %q: want 256-bit state and an S256 challenge", q.Get("state"), q.Get("code_challenge"))
			}
			scopes := strings.Fields(q.Get("scope"))
			if tt.oidc {
				if len(q.Get("nonce")) < 20 {
					t.Errorf("nonce = %q, want a random one", q.Get("nonce"))
				}
				if !contains(scopes, "openid") || !contains(scopes, "email") {
					t.Errorf("scope = %q, want openid and email", q.Get("scope"))
				}
			} else if !contains(scopes, "user:email") {
				t.Errorf("scope = %q, want user:email", q.Get("scope"))
			}
			// The flow cookie: HttpOnly, at most 10 minutes.
			var flow *http.Cookie
			for _, c := range (&http.Response{Header: r.Header}).Cookies() {
				if c.Name != "session" {
					flow = c
				}
			}
			if flow == nil {
				t.Fatalf("no flow cookie in %q", r.Header.Values("Set-Cookie"))
			}
			if !flow.HttpOnly || flow.MaxAge <= 0 || flow.MaxAge > 600 || flow.Value == "" {
				t.Errorf("flow cookie %+v, want HttpOnly with Max-Age 1 to 600", flow)
			}
			if strings.Contains(r.Header.Get("Cache-Control"), "no-store") == false {
				t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
			}
			// Two starts get different states and challenges.
			loc2, _ := url.Parse(b.mustStart(o.env, tt.provider, ""))
			if loc2.Query().Get("state") == q.Get("state") || loc2.Query().Get("code_challenge") == q.Get("code_challenge") {
				t.Error("two flows share a state or a code challenge")
			}
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestOAuthStartRefuses(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	b := newBrowser(t)
	for _, redirectTo := range []string{"//evil.com", `/\evil.com`, "https://evil.com", "http://app.example.test/x",
		"evil.com", "javascript:alert(1)", "/\\/evil.com"} {
		r := b.start(o.env, "corp", redirectTo)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("redirectTo %q: status %d, want 422 (Location %q)", redirectTo, r.Status, r.Header.Get("Location"))
			continue
		}
		r.wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
	}
	b.start(o.env, "nope", "").wantProblem(t, http.StatusNotFound, "not_found")
	// Every failure of a callback goes to the login page, an unknown provider's too.
	wantOAuthError(t, b.get(o.env, "/v1/auth/oauth/nope/callback?code=x&state=y"), "oauth_failed")
	token := o.seedSession(o.seedUser("linker@example.com", ""))
	b.link(o.env, "nope", token).wantProblem(t, http.StatusNotFound, "not_found")
	if c := o.corp.Counts(); c.Authorizations != 0 {
		t.Errorf("%d authorizations reached the provider", c.Authorizations)
	}
}

// TestOAuthNewUser covers rule 4: a provider account nobody has, with a
// verified email nobody has, makes a new user.
func TestOAuthNewUser(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetUser(oauthtest.User{Sub: "corp-1", Email: "New.Person@Example.com", EmailVerified: true,
		Name: "New Person", Picture: "https://img.example.com/p.png"})
	o.gh.SetUser(oauthtest.GitHubUser{ID: 99, Login: "gh", Name: "Git Hubber", AvatarURL: "https://avatars.example.com/99",
		Emails: []oauthtest.GitHubEmail{{Email: "gh@example.com", Primary: true, Verified: true}}})
	for _, tt := range []struct {
		provider, accountID, email, name, image, typ string
	}{
		{"corp", "corp-1", "new.person@example.com", "New Person", "https://img.example.com/p.png", "oidc"},
		{"github", "99", "gh@example.com", "Git Hubber", "https://avatars.example.com/99", "oauth"},
	} {
		t.Run(tt.provider, func(t *testing.T) {
			b := newBrowser(t)
			token := wantSignedIn(t, b.signIn(o.env, tt.provider, "/dashboard?tab=1"), "/dashboard?tab=1")
			u := o.whoami(token)
			if !strings.EqualFold(u.Email, tt.email) || deref(u.Name) != tt.name || deref(u.Image) != tt.image {
				t.Errorf("user %s %q %q, want %s %q %q", u.Email, deref(u.Name), deref(u.Image), tt.email, tt.name, tt.image)
			}
			if u.EmailVerified == nil || u.HasPassword || u.Role != "user" || !u.IsActive {
				t.Errorf("user emailVerified %v hasPassword %v role %s active %v, want verified, no password, user, active",
					deref(u.EmailVerified), u.HasPassword, u.Role, u.IsActive)
			}
			if got, want := u.providers(), tt.provider+":"+tt.typ; got != want {
				t.Errorf("accounts %s, want %s", got, want)
			}
			if got := o.providerAccountUser(tt.provider, tt.accountID); got != u.ID {
				t.Errorf("account %s/%s belongs to %q, want %s", tt.provider, tt.accountID, got, u.ID)
			}
			// The cookie authenticates too.
			r := b.get(o.env, "/v1/me")
			r.wantStatus(t, http.StatusOK)
			// The default redirect is /.
			wantSignedIn(t, newBrowser(t).signIn(o.env, tt.provider, ""), "/")
			if n := o.count(`SELECT count(*) FROM users WHERE lower(email) = $1`, tt.email); n != 1 {
				t.Errorf("%d users with %s, want 1", n, tt.email)
			}
		})
	}
}

// TestOAuthExistingLink covers rule 1: a linked account signs its user in
// whatever email the provider now reports.
func TestOAuthExistingLink(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetUser(oauthtest.User{Sub: "stable-sub", Email: "first@example.com", EmailVerified: true, Name: "F"})
	first := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))

	// The provider's email changes, even to an unverified one: the link decides.
	o.corp.SetUser(oauthtest.User{Sub: "stable-sub", Email: "second@example.com", EmailVerified: false, Name: "F"})
	again := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
	if again.ID != first.ID {
		t.Errorf("second sign-in is user %s, want %s", again.ID, first.ID)
	}
	if n := o.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	// A seeded (imported) link signs in too.
	id := o.seedUser("imported@example.com", "")
	o.exec(`INSERT INTO accounts (user_id, type, provider, provider_account_id) VALUES ($1, 'oauth', 'github', '4242')`, id)
	if got := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "github", "/"), "/")); got.ID != id {
		t.Errorf("GitHub sign-in is user %s, want the imported %s", got.ID, id)
	}
}

// TestOAuthAutoLink covers rule 3: a verified provider email of a verified
// local user links the account and signs that user in.
func TestOAuthAutoLink(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	id := o.seedPasswordUser("Alice@Example.com", goodPassword)
	o.corp.SetUser(oauthtest.User{Sub: "alice-corp", Email: "alice@example.COM", EmailVerified: true, Name: "Alice"})
	u := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
	if u.ID != id || !u.HasPassword || u.providers() != "corp:oidc" {
		t.Errorf("signed in as %s (password %v, accounts %s), want %s with a password and corp", u.ID, u.HasPassword, u.providers(), id)
	}
	// The password still works.
	o.mustLogin("alice@example.com", goodPassword)

	// GitHub: only the primary verified address counts.
	o.gh.SetUser(oauthtest.GitHubUser{ID: 5, Login: "a", Emails: []oauthtest.GitHubEmail{
		{Email: "other@example.com", Verified: true}, {Email: "ALICE@example.com", Primary: true, Verified: true}}})
	if got := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "github", "/"), "/")); got.ID != id {
		t.Errorf("GitHub sign-in is user %s, want %s", got.ID, id)
	}
}

// TestOAuthNotLinked covers rule 3's refusal: a local user whose email is
// not verified is not taken over by a provider with the same email.
func TestOAuthNotLinked(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	id := o.seedPasswordUser("bob@example.com", goodPassword)
	o.exec(`UPDATE users SET email_verified = NULL WHERE id = $1`, id)
	o.corp.SetUser(oauthtest.User{Sub: "bob-corp", Email: "bob@example.com", EmailVerified: true})
	wantOAuthError(t, newBrowser(t).signIn(o.env, "corp", "/"), "oauth_account_not_linked")
	if n := o.count(`SELECT count(*) FROM accounts`); n != 0 {
		t.Errorf("%d accounts linked, want none", n)
	}
	if n := o.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

// TestOAuthEmailUnverified: an unverified provider email neither links nor
// creates a user.
func TestOAuthEmailUnverified(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.seedPasswordUser("carol@example.com", goodPassword)
	for _, tt := range []struct {
		name, provider string
		set            func()
	}{
		{"oidc unverified, existing user", "corp", func() {
			o.corp.SetUser(oauthtest.User{Sub: "c1", Email: "carol@example.com", EmailVerified: false})
		}},
		{"oidc unverified, new email", "corp", func() {
			o.corp.SetUser(oauthtest.User{Sub: "c2", Email: "nobody@example.com", EmailVerified: false})
		}},
		{"oidc no email", "corp", func() { o.corp.SetUser(oauthtest.User{Sub: "c3"}) }},
		{"github only unverified", "github", func() {
			o.gh.SetUser(oauthtest.GitHubUser{ID: 1, Login: "u", Emails: []oauthtest.GitHubEmail{
				{Email: "carol@example.com", Primary: true, Verified: false}}})
		}},
		{"github verified but not primary", "github", func() {
			o.gh.SetUser(oauthtest.GitHubUser{ID: 2, Login: "v", Emails: []oauthtest.GitHubEmail{
				{Email: "carol@example.com", Verified: true}, {Email: "p@example.com", Primary: true}}})
		}},
		{"github no email", "github", func() { o.gh.SetUser(oauthtest.GitHubUser{ID: 3, Login: "w"}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.set()
			wantOAuthError(t, newBrowser(t).signIn(o.env, tt.provider, "/"), "oauth_email_unverified")
		})
	}
	if n := o.count(`SELECT count(*) FROM accounts`); n != 0 {
		t.Errorf("%d accounts linked, want none", n)
	}
	if n := o.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

// TestOAuthAccountDisabled: a deactivated user gets account_disabled,
// through an existing link and through an automatic link alike.
func TestOAuthAccountDisabled(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetUser(oauthtest.User{Sub: "d1", Email: "dave@example.com", EmailVerified: true})
	u := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
	o.exec(`UPDATE users SET is_active = false WHERE id = $1`, u.ID)
	before := o.count(`SELECT count(*) FROM sessions`)
	wantOAuthError(t, newBrowser(t).signIn(o.env, "corp", "/"), "account_disabled")

	id := o.seedPasswordUser("erin@example.com", goodPassword)
	o.exec(`UPDATE users SET is_active = false WHERE id = $1`, id)
	o.gh.SetUser(oauthtest.GitHubUser{ID: 8, Login: "erin", Emails: []oauthtest.GitHubEmail{
		{Email: "erin@example.com", Primary: true, Verified: true}}})
	wantOAuthError(t, newBrowser(t).signIn(o.env, "github", "/"), "account_disabled")
	if n := o.count(`SELECT count(*) FROM sessions`); n != before {
		t.Errorf("%d sessions after refused sign-ins, want %d", n, before)
	}
	if n := o.count(`SELECT count(*) FROM accounts WHERE user_id = $1`, id); n != 0 {
		t.Errorf("a deactivated user got %d accounts linked, want none", n)
	}
}

func TestOAuthDenied(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for _, p := range []string{"corp", "github"} {
		if p == "corp" {
			o.corp.DenyNext()
		} else {
			o.gh.DenyNext()
		}
		wantOAuthError(t, newBrowser(t).signIn(o.env, p, "/"), "oauth_denied")
	}
	if c := o.corp.Counts().Exchanges + o.gh.Counts().Exchanges; c != 0 {
		t.Errorf("%d code exchanges after a denial, want none", c)
	}
	// A denial ends the flow: its state does not work again.
	b := newBrowser(t)
	o.corp.DenyNext()
	cb := b.authorize(b.mustStart(o.env, "corp", "/"))
	wantOAuthError(t, b.get(o.env, cb), "oauth_denied")
	u, _ := url.Parse(cb)
	wantOAuthError(t, b.get(o.env, u.Path+"?code=forged&state="+u.Query().Get("state")), "oauth_failed")
}

// TestOAuthStateRefused covers every way the callback's state or flow
// cookie can be wrong.
func TestOAuthStateRefused(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for _, tt := range []struct {
		name string
		// callback gets the callback URL the provider sent and the browser
		// that started the flow, and returns the response to check.
		callback func(t *testing.T, b *browser, cb *url.URL) *response
	}{
		{"missing state", func(t *testing.T, b *browser, cb *url.URL) *response {
			q := cb.Query()
			q.Del("state")
			return b.get(o.env, cb.Path+"?"+q.Encode())
		}},
		{"unknown state", func(t *testing.T, b *browser, cb *url.URL) *response {
			q := cb.Query()
			q.Set("state", "A"+q.Get("state")[1:])
			return b.get(o.env, cb.Path+"?"+q.Encode())
		}},
		{"missing code", func(t *testing.T, b *browser, cb *url.URL) *response {
			q := cb.Query()
			q.Del("code")
			return b.get(o.env, cb.Path+"?"+q.Encode())
		}},
		{"wrong code", func(t *testing.T, b *browser, cb *url.URL) *response {
			q := cb.Query()
			q.Set("code", "forged")
			return b.get(o.env, cb.Path+"?"+q.Encode())
		}},
		{"expired", func(t *testing.T, b *browser, cb *url.URL) *response {
			o.clock.Advance(11 * time.Minute)
			return b.get(o.env, cb.String())
		}},
		{"another browser", func(t *testing.T, b *browser, cb *url.URL) *response {
			return newBrowser(t).get(o.env, cb.String())
		}},
		{"another browser's flow cookie", func(t *testing.T, b *browser, cb *url.URL) *response {
			// The attacker's browser starts its own flow (getting a
			// valid cookie of its own) and opens the victim's callback.
			other := newBrowser(t)
			other.mustStart(o.env, "corp", "/")
			return other.get(o.env, cb.String())
		}},
		{"callback of another provider", func(t *testing.T, b *browser, cb *url.URL) *response {
			return b.get(o.env, strings.Replace(cb.Path, "/corp/", "/github/", 1)+"?"+cb.RawQuery)
		}},
		{"code of another flow", func(t *testing.T, b *browser, cb *url.URL) *response {
			// A code the attacker got for a flow of their own, injected
			// with the victim's state: PKCE makes its exchange fail.
			attacker := newBrowser(t)
			theirs, _ := url.Parse(attacker.authorize(attacker.mustStart(o.env, "corp", "/")))
			q := cb.Query()
			q.Set("code", theirs.Query().Get("code"))
			refused := o.corp.Counts().Refused
			r := b.get(o.env, cb.Path+"?"+q.Encode())
			if o.corp.Counts().Refused == refused {
				t.Error("the provider did not refuse the exchange of another flow's code")
			}
			return r
		}},
		{"replayed", func(t *testing.T, b *browser, cb *url.URL) *response {
			wantSignedIn(t, b.get(o.env, cb.String()), "/")
			return b.get(o.env, cb.String())
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o.corp.SetUser(oauthtest.User{Sub: "s-" + strings.ReplaceAll(tt.name, " ", "-"),
				Email: strings.ReplaceAll(tt.name, " ", "-") + "@example.com", EmailVerified: true})
			b := newBrowser(t)
			cb, err := url.Parse(b.authorize(b.mustStart(o.env, "corp", "/")))
			if err != nil {
				t.Fatal(err)
			}
			wantOAuthError(t, tt.callback(t, b, cb), "oauth_failed")
		})
	}
	// Only the replayed flow made a user.
	if n := o.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1 (the replayed flow's first callback)", n)
	}
}

// TestOAuthStateSingleUseAfterFailure: a callback that fails (here a
// tampered ID token) still uses its state up.
func TestOAuthStateSingleUseAfterFailure(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	b := newBrowser(t)
	cb := b.authorize(b.mustStart(o.env, "corp", "/"))
	o.corp.TamperNext(oauthtest.WrongAudience)
	wantOAuthError(t, b.get(o.env, cb), "oauth_failed")
	wantOAuthError(t, b.get(o.env, cb), "oauth_failed")
	if c := o.corp.Counts().Exchanges; c != 1 {
		t.Errorf("%d code exchanges, want 1", c)
	}
}

func TestOAuthIDTokenRefused(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for _, tt := range []struct {
		name   string
		tamper oauthtest.Tamper
	}{
		{"wrong signature", oauthtest.WrongSignature},
		{"wrong audience", oauthtest.WrongAudience},
		{"wrong issuer", oauthtest.WrongIssuer},
		{"wrong nonce", oauthtest.WrongNonce},
		{"missing nonce", oauthtest.MissingNonce},
		{"expired", oauthtest.Expired},
		{"unsigned", oauthtest.AlgNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o.corp.TamperNext(tt.tamper)
			wantOAuthError(t, newBrowser(t).signIn(o.env, "corp", "/"), "oauth_failed")
		})
	}
	if n := o.count(`SELECT count(*) FROM users`); n != 0 {
		t.Errorf("%d users created from refused ID tokens, want none", n)
	}
	// The same user signs in with a good token.
	wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/")
}

// TestOAuthUserinfo: an ID token with only sub takes the email from
// userinfo, whose sub must match.
func TestOAuthUserinfo(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetProfileInIDToken(false)
	o.corp.SetUser(oauthtest.User{Sub: "ui-1", Email: "frank@example.com", EmailVerified: true, Name: "Frank",
		Picture: "https://img.example.com/f.png"})
	u := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
	if u.Email != "frank@example.com" || deref(u.Name) != "Frank" || deref(u.Image) != "https://img.example.com/f.png" {
		t.Errorf("user %s %q %q, want frank's profile from userinfo", u.Email, deref(u.Name), deref(u.Image))
	}
	if c := o.corp.Counts().Userinfo; c < 1 {
		t.Errorf("userinfo was not asked")
	}

	o.corp.SetUser(oauthtest.User{Sub: "ui-2", Email: "grace@example.com", EmailVerified: true})
	o.corp.SetUserinfoSub("someone-else")
	wantOAuthError(t, newBrowser(t).signIn(o.env, "corp", "/"), "oauth_failed")
	if n := o.count(`SELECT count(*) FROM users WHERE email = 'grace@example.com'`); n != 0 {
		t.Error("a user was made from userinfo of another subject")
	}

	// userinfo's unverified email is unverified.
	o.corp.SetUserinfoSub("")
	o.corp.SetUser(oauthtest.User{Sub: "ui-3", Email: "heidi@example.com", EmailVerified: false})
	wantOAuthError(t, newBrowser(t).signIn(o.env, "corp", "/"), "oauth_email_unverified")
}

// TestOAuthLink covers rule 2: POST /v1/me/accounts/{provider} links.
func TestOAuthLink(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	id := o.seedPasswordUser("ivan@example.com", goodPassword)
	token := o.seedSession(id)
	// A provider email that differs from the user's, and is not even verified: linking asks nothing of it.
	o.corp.SetUser(oauthtest.User{Sub: "ivan-corp", Email: "ivan.work@corp.example", EmailVerified: false})
	b := newBrowser(t)
	r := b.mustLink(o.env, "corp", token)
	wantSignedIn(t, r, "/account")
	if got := o.providerAccountUser("corp", "ivan-corp"); got != id {
		t.Fatalf("corp account linked to %q, want %s", got, id)
	}
	if got := o.whoami(token).providers(); got != "corp:oidc" {
		t.Errorf("accounts %s, want corp:oidc", got)
	}
	// The link URL is the authorization URL of a start.
	r = b.link(o.env, "github", token)
	r.wantStatus(t, http.StatusOK)
	var body struct {
		URL string `json:"url"`
	}
	r.JSON(t, &body)
	if !strings.HasPrefix(body.URL, o.gh.WebURL()+"/login/oauth/authorize?") {
		t.Errorf("link url %s, want GitHub's authorization endpoint", body.URL)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q", cc)
	}
	// Signing in with corp now signs ivan in.
	if got := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/")); got.ID != id {
		t.Errorf("corp sign-in is %s, want %s", got.ID, id)
	}

	t.Run("already linked", func(t *testing.T) {
		// Ivan links a second corp account.
		o.corp.SetUser(oauthtest.User{Sub: "ivan-corp-2", Email: "ivan2@corp.example", EmailVerified: true})
		wantOAuthError(t, newBrowser(t).mustLink(o.env, "corp", token), "oauth_already_linked")
		if got := o.providerAccountUser("corp", "ivan-corp-2"); got != "" {
			t.Errorf("second corp account linked to %s", got)
		}
	})
	t.Run("relinking the same account", func(t *testing.T) {
		o.corp.SetUser(oauthtest.User{Sub: "ivan-corp", Email: "ivan.work@corp.example", EmailVerified: true})
		r := newBrowser(t).mustLink(o.env, "corp", token)
		if r.Header.Get("Location") != baseURL+"/account" && r.Header.Get("Location") != baseURL+"/login?error=oauth_already_linked" {
			t.Errorf("relinking the linked account redirected to %s", r.Header.Get("Location"))
		}
	})
	t.Run("taken", func(t *testing.T) {
		other := o.seedPasswordUser("judy@example.com", goodPassword)
		o.corp.SetUser(oauthtest.User{Sub: "ivan-corp", Email: "ivan.work@corp.example", EmailVerified: true})
		wantOAuthError(t, newBrowser(t).mustLink(o.env, "corp", o.seedSession(other)), "oauth_account_taken")
		if got := o.providerAccountUser("corp", "ivan-corp"); got != id {
			t.Errorf("corp account now belongs to %s, want %s", got, id)
		}
	})
	t.Run("needs a session", func(t *testing.T) {
		newBrowser(t).link(o.env, "corp", "").wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("cookie from another origin", func(t *testing.T) {
		r := newBrowser(t).send(o.env, "POST", "/v1/me/accounts/corp", req{header: cookieHeader(token, "https://evil.example")})
		r.wantProblem(t, http.StatusForbidden, "forbidden")
	})
	t.Run("session ended before the callback", func(t *testing.T) {
		// The user deletes themselves between the link's start and its callback.
		victim := o.seedPasswordUser("kim@example.com", goodPassword)
		vt := o.seedSession(victim)
		b := newBrowser(t)
		r := b.link(o.env, "github", vt)
		r.wantStatus(t, http.StatusOK)
		var body struct {
			URL string `json:"url"`
		}
		r.JSON(t, &body)
		cb := b.authorize(body.URL)
		o.exec(`DELETE FROM users WHERE id = $1`, victim)
		r = b.get(o.env, cb)
		if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), baseURL+"/login?error=") {
			t.Errorf("callback after the user was deleted: %d %s", r.Status, r.Header.Get("Location"))
		}
	})
}

// TestOAuthPreHijack is the template's hole: an attacker registers the
// victim's email with their own password and never verifies; the victim
// then signs in with a provider. The pending registration must be gone and
// the attacker's password must not sign in.
func TestOAuthPreHijack(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	const victim = "victim@example.com"
	const attackerPassword = "attacker knows this one 8712"
	o.register("Attacker", victim, attackerPassword)
	verify := verifyToken(t, o.mailTo(victim))

	o.corp.SetUser(oauthtest.User{Sub: "victim-sub", Email: "Victim@example.com", EmailVerified: true, Name: "Victim"})
	u := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
	if u.HasPassword || deref(u.Name) != "Victim" {
		t.Errorf("victim's user has password %v, name %q; want no password and the provider's name", u.HasPassword, deref(u.Name))
	}
	if n := o.count(`SELECT count(*) FROM preregistrations WHERE lower(email) = $1`, victim); n != 0 {
		t.Errorf("%d pending registrations remain for the victim's email, want none", n)
	}
	if h := o.storedHash(u.ID); h != "" {
		t.Error("the victim's user has a password hash")
	}
	o.login(victim, attackerPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	// The attacker's verification link is dead and attaches nothing.
	o.verify(verify).wantProblem(t, http.StatusBadRequest, "invalid_token")
	o.login(victim, attackerPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	if got := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/")); got.ID != u.ID || got.HasPassword {
		t.Errorf("victim signs in as %s (password %v), want %s without one", got.ID, got.HasPassword, u.ID)
	}
}

// TestOAuthTwoInstances: a flow started on one instance finishes on another.
func TestOAuthTwoInstances(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	other := o.instance()
	for _, p := range []string{"corp", "github"} {
		b := newBrowser(t)
		cb := b.authorize(b.mustStart(o.env, p, "/from-one"))
		token := wantSignedIn(t, b.get(other.env, cb), "/from-one")
		if u := other.whoami(token); u.providers() != map[string]string{"corp": "corp:oidc", "github": "github:oauth"}[p] {
			t.Errorf("%s: accounts %s", p, u.providers())
		}
	}
	// And a link flow too.
	id := o.seedPasswordUser("multi@example.com", goodPassword)
	o.corp.SetUser(oauthtest.User{Sub: "multi-corp", Email: "m@corp.example", EmailVerified: true})
	b := newBrowser(t)
	r := b.link(other.env, "corp", o.seedSession(id))
	r.wantStatus(t, http.StatusOK)
	var body struct {
		URL string `json:"url"`
	}
	r.JSON(t, &body)
	wantSignedIn(t, b.get(o.env, b.authorize(body.URL)), "/account")
	if got := o.providerAccountUser("corp", "multi-corp"); got != id {
		t.Errorf("linked to %q, want %s", got, id)
	}
}

// TestOAuthTokensEncrypted: the provider's tokens are stored sealed under
// AUTH_SECRET, never in the clear, and never returned.
func TestOAuthTokensEncrypted(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for _, p := range []string{"corp", "github"} {
		b := newBrowser(t)
		r := b.signIn(o.env, p, "/")
		token := wantSignedIn(t, r, "/")
		var issued []oauthtest.Tokens
		if p == "corp" {
			issued = o.corp.Issued()
		} else {
			issued = o.gh.Issued()
		}
		if len(issued) != 1 {
			t.Fatalf("%s issued %d token sets, want 1", p, len(issued))
		}
		fake := issued[0]
		var access, refresh, idToken, tokenType, scope *string
		var expires *int32
		if err := o.pool.QueryRow(context.Background(), `SELECT access_token, refresh_token, id_token, token_type, scope, expires_at
			FROM accounts WHERE provider = $1`, p).Scan(&access, &refresh, &idToken, &tokenType, &scope, &expires); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name  string
			got   *string
			plain string
		}{{"access_token", access, fake.AccessToken}, {"refresh_token", refresh, fake.RefreshToken}, {"id_token", idToken, fake.IDToken}} {
			if c.plain == "" {
				continue
			}
			if c.got == nil {
				t.Errorf("%s: %s not stored", p, c.name)
				continue
			}
			if !strings.HasPrefix(*c.got, "enc:v1:") || strings.Contains(*c.got, c.plain) {
				t.Errorf("%s: %s stored as %.40q…, want it sealed (enc:v1:)", p, c.name, *c.got)
			}
		}
		if tokenType == nil || !strings.EqualFold(*tokenType, "bearer") {
			t.Errorf("%s: token_type %v, want bearer", p, tokenType)
		}
		if expires == nil || int64(*expires) < o.clock.Now().Unix() {
			t.Errorf("%s: expires_at %v, want the token's expiry", p, expires)
		}
		// Nothing returned carries them.
		for _, body := range [][]byte{r.Body, o.do(req{method: "GET", path: "/v1/me", token: token}).Body} {
			for _, s := range []string{fake.AccessToken, fake.RefreshToken} {
				if strings.Contains(string(body), s) {
					t.Errorf("%s: a response carries a provider token", p)
				}
			}
		}
		if logs := o.logs.String(); strings.Contains(logs, fake.AccessToken) || strings.Contains(logs, fake.RefreshToken) ||
			(fake.IDToken != "" && strings.Contains(logs, fake.IDToken)) {
			t.Errorf("%s: the log holds a provider token", p)
		}
	}
}

// TestOAuthExchangeFails: a client secret the provider refuses makes a
// failed code exchange, which is oauth_failed, not a 500.
func TestOAuthExchangeFails(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp = oauthtest.NewOIDC(t, corpClientID, "a-rotated-secret")
	o.gh = oauthtest.NewGitHub(t, ghClientID, "a-rotated-secret")
	other := o.instance()
	for _, p := range []string{"corp", "github"} {
		wantOAuthError(t, newBrowser(t).signIn(other.env, p, "/"), "oauth_failed")
	}
	if c := o.corp.Counts(); c.Exchanges != 0 || c.Refused == 0 {
		t.Errorf("OIDC counts %+v, want refused exchanges", c)
	}
}

// TestOAuthProviderMisbehaves: nothing a provider sends, or fails to send,
// makes a 500 or a hang; each is oauth_failed, logged at warning.
func TestOAuthProviderMisbehaves(t *testing.T) {
	t.Parallel()
	// A short provider timeout, so a provider that hangs is given up on soon.
	o := newOAuthEnv(t, func(cfg *service.Config) { cfg.ProviderClient = &http.Client{Timeout: 500 * time.Millisecond} })
	// hang answers nothing until the client gives up (the server notices
	// only once the request body is read) or the test ends.
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended) })
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-ended:
		}
	})
	huge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`+strings.Repeat("a", 2<<20)+`","token_type":"bearer"}`)
	})
	garbage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id": "not a number", "emails": [`)
	})
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	noIDToken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"x","token_type":"Bearer","expires_in":60}`)
	})
	for _, tt := range []struct {
		name, provider, path string
		h                    http.Handler
		profileInIDToken     bool
	}{
		{"oidc token hangs", "corp", "/token", hang, true},
		{"oidc token huge", "corp", "/token", huge, true},
		{"oidc token garbage", "corp", "/token", garbage, true},
		{"oidc token 500", "corp", "/token", status(500), true},
		{"oidc no id_token", "corp", "/token", noIDToken, true},
		{"oidc jwks hangs", "corp", "/jwks", hang, true},
		{"oidc jwks garbage", "corp", "/jwks", garbage, true},
		{"oidc userinfo hangs", "corp", "/userinfo", hang, false},
		{"oidc userinfo 500", "corp", "/userinfo", status(500), false},
		{"oidc userinfo huge", "corp", "/userinfo", huge, false},
		{"github token hangs", "github", "/login/oauth/access_token", hang, true},
		{"github token huge", "github", "/login/oauth/access_token", huge, true},
		{"github token garbage", "github", "/login/oauth/access_token", garbage, true},
		{"github user hangs", "github", "/api/v3/user", hang, true},
		{"github user garbage", "github", "/api/v3/user", garbage, true},
		{"github user 401", "github", "/api/v3/user", status(401), true},
		{"github user huge", "github", "/api/v3/user", huge, true},
		{"github emails 403", "github", "/api/v3/user/emails", status(403), true},
		{"github emails garbage", "github", "/api/v3/user/emails", garbage, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o.corp.SetProfileInIDToken(tt.profileInIDToken)
			var fake interface{ Override(string, http.Handler) } = o.gh
			if tt.provider == "corp" {
				fake = o.corp
			}
			fake.Override(tt.path, tt.h)
			defer fake.Override(tt.path, nil)
			b := newBrowser(t)
			cb := b.authorize(b.mustStart(o.env, tt.provider, "/"))
			began := time.Now()
			wantOAuthError(t, b.get(o.env, cb), "oauth_failed")
			if d := time.Since(began); d > 15*time.Second {
				t.Errorf("the callback took %v", d)
			}
		})
	}
	if n := o.count(`SELECT count(*) FROM users`); n != 0 {
		t.Errorf("%d users made from misbehaving providers, want none", n)
	}
	if got := strings.Count(o.logs.String(), `"msg":"provider sign-in failed"`); got < 19 {
		t.Errorf("%d failures logged, want one per case", got)
	}
	if strings.Contains(o.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a provider's misbehaviour was logged as an error:\n%s", o.logs.String())
	}
}

// TestOAuthDiscoveryDown: an issuer unreachable at start-up does not stop
// the server; its provider answers unavailable until discovery succeeds.
func TestOAuthDiscoveryDown(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetDiscoveryDown(true)
	other := o.instance() // its first discovery fails
	b := newBrowser(t)
	r := b.start(other.env, "corp", "/")
	r.wantProblem(t, http.StatusServiceUnavailable, "unavailable")
	wantRetryAfter(t, r, time.Minute)
	// The rest of the server works: GitHub, the provider list.
	b.mustStart(other.env, "github", "/")
	b.get(other.env, "/v1/auth/providers").wantStatus(t, http.StatusOK)
	o.corp.SetDiscoveryDown(false)
	waitUntil(t, "discovery succeeds", func() bool { return b.start(other.env, "corp", "/").Status == http.StatusFound })
	wantSignedIn(t, b.signIn(other.env, "corp", "/"), "/")
}

// TestOAuthThrottled: start and callback are limited per client address.
func TestOAuthThrottled(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	b := newBrowser(t)
	var last *response
	for i := 0; i < 200; i++ {
		if last = b.start(o.env, "github", "/"); last.Status != http.StatusFound {
			break
		}
	}
	last.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	wantRetryAfter(t, last, 5*time.Minute)
	for i := 0; i < 200; i++ {
		if last = b.get(o.env, "/v1/auth/oauth/github/callback?code=x&state=y"); last.Status != http.StatusFound {
			break
		}
	}
	last.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
}

// TestOAuthConcurrentNewUser: two providers bring the same new verified
// email at the same moment; one user results, with both accounts linked.
func TestOAuthConcurrentNewUser(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for round := range 5 {
		email := fmt.Sprintf("race%d@example.com", round)
		o.corp.SetUser(oauthtest.User{Sub: "race-" + email, Email: email, EmailVerified: true})
		o.gh.SetUser(oauthtest.GitHubUser{ID: int64(1000 + round), Login: "r",
			Emails: []oauthtest.GitHubEmail{{Email: email, Primary: true, Verified: true}}})
		b1, b2 := newBrowser(t), newBrowser(t)
		cb1 := b1.authorize(b1.mustStart(o.env, "corp", "/"))
		cb2 := b2.authorize(b2.mustStart(o.env, "github", "/"))
		var wg sync.WaitGroup
		var r1, r2 *response
		wg.Add(2)
		go func() { defer wg.Done(); r1 = b1.getAsync(o.env, cb1) }()
		go func() { defer wg.Done(); r2 = b2.getAsync(o.env, cb2) }()
		wg.Wait()
		if r1 == nil || r2 == nil {
			t.FailNow()
		}
		u1 := o.whoami(wantSignedIn(t, r1, "/"))
		u2 := o.whoami(wantSignedIn(t, r2, "/"))
		if u1.ID != u2.ID {
			t.Errorf("round %d: two users %s and %s for one email", round, u1.ID, u2.ID)
		}
		if n := o.count(`SELECT count(*) FROM users WHERE email = $1`, email); n != 1 {
			t.Errorf("round %d: %d users with %s", round, n, email)
		}
	}
}

// TestOAuthProfileCleaned: whatever name and picture a provider sends, the
// user signs in and the profile holds only what a profile may.
func TestOAuthProfileCleaned(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	for i, tt := range []struct {
		name, picture string
	}{
		{"Eve\x00Nul", "javascript:alert(1)"},
		{"Line\nBreak\tTab\u202e", "data:text/html,<script>"},
		{strings.Repeat("é", 300), "https://img.example.com/" + strings.Repeat("a", 5000)},
		{"   ", ""},
	} {
		t.Run(fmt.Sprintf("%.10q", tt.name), func(t *testing.T) {
			o.corp.SetUser(oauthtest.User{Sub: fmt.Sprintf("p-%d", i),
				Email: fmt.Sprintf("p%d@example.com", i), EmailVerified: true,
				Name: tt.name, Picture: tt.picture})
			u := o.whoami(wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/"))
			if u.Name != nil && (strings.ContainsFunc(*u.Name, unicode.IsControl) || utf8.RuneCountInString(*u.Name) > 100 || *u.Name == "") {
				t.Errorf("name stored as %q", *u.Name)
			}
			if u.Image != nil && !strings.HasPrefix(*u.Image, "https://") {
				t.Errorf("image stored as %q", *u.Image)
			}
		})
	}
}

// TestOAuthAuditEvents: a user created by a provider, a sign-in, a link
// and an unlink are in the audit trail.
func TestOAuthAuditEvents(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	token := wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/")
	u := o.whoami(token)
	wantSignedIn(t, newBrowser(t).mustLink(o.env, "github", token), "/account")
	o.do(req{method: "DELETE", path: "/v1/me/accounts/github", token: token}).wantStatus(t, http.StatusNoContent)
	for typ, want := range map[string]int{
		"user_created_by_provider": 1, "account_linked": 2, "account_unlinked": 1, "login_success": 2,
	} {
		if got := o.countEvents(u.ID, typ); got != want {
			t.Errorf("%d %s events, want %d", got, typ, want)
		}
	}
}

// TestOAuthFlowLifetime: a flow is good for ten minutes from its start.
func TestOAuthFlowLifetime(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	b := newBrowser(t)
	cb := b.authorize(b.mustStart(o.env, "github", "/late"))
	o.clock.Advance(9*time.Minute + 50*time.Second)
	wantSignedIn(t, b.get(o.env, cb), "/late")

	cb = b.authorize(b.mustStart(o.env, "github", "/late"))
	o.clock.Advance(10*time.Minute + time.Second)
	wantOAuthError(t, b.get(o.env, cb), "oauth_failed")
}

// TestOAuthConcurrentCallbacks: one callback sent twice at once signs in
// once; one new provider account arriving from two browsers at once makes
// one user and one account.
func TestOAuthConcurrentCallbacks(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	both := func(b1, b2 *browser, cb1, cb2 string) (*response, *response) {
		var wg sync.WaitGroup
		var r1, r2 *response
		wg.Add(2)
		go func() { defer wg.Done(); r1 = b1.getAsync(o.env, cb1) }()
		go func() { defer wg.Done(); r2 = b2.getAsync(o.env, cb2) }()
		wg.Wait()
		if r1 == nil || r2 == nil {
			t.FailNow()
		}
		return r1, r2
	}
	for round := range 5 {
		// The same callback twice.
		o.corp.SetUser(oauthtest.User{Sub: fmt.Sprintf("twice-%d", round), Email: fmt.Sprintf("twice%d@example.com", round), EmailVerified: true})
		b := newBrowser(t)
		cb := b.authorize(b.mustStart(o.env, "corp", "/"))
		r1, r2 := both(b, b, cb, cb)
		if n := btoi(sessionCookie(r1) != "") + btoi(sessionCookie(r2) != ""); n != 1 {
			t.Errorf("round %d: one callback signed in %d times (%s, %s)", round, n, r1.Header.Get("Location"), r2.Header.Get("Location"))
		}

		// Two flows of one new provider account.
		o.gh.SetUser(oauthtest.GitHubUser{ID: int64(5000 + round), Login: "same",
			Emails: []oauthtest.GitHubEmail{{Email: fmt.Sprintf("same%d@example.com", round), Primary: true, Verified: true}}})
		b1, b2 := newBrowser(t), newBrowser(t)
		cb1 := b1.authorize(b1.mustStart(o.env, "github", "/"))
		cb2 := b2.authorize(b2.mustStart(o.env, "github", "/"))
		r1, r2 = both(b1, b2, cb1, cb2)
		u1, u2 := o.whoami(wantSignedIn(t, r1, "/")), o.whoami(wantSignedIn(t, r2, "/"))
		if u1.ID != u2.ID {
			t.Errorf("round %d: one GitHub account signed in as %s and %s", round, u1.ID, u2.ID)
		}
		if n := o.count(`SELECT count(*) FROM accounts WHERE provider = 'github' AND provider_account_id = $1`, fmt.Sprint(5000+round)); n != 1 {
			t.Errorf("round %d: %d account rows", round, n)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestOAuthLastLoginMethod: a user made by a provider has no password, so
// the provider account is their last way in and cannot be unlinked.
func TestOAuthLastLoginMethod(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	token := wantSignedIn(t, newBrowser(t).signIn(o.env, "corp", "/"), "/")
	o.do(req{method: "DELETE", path: "/v1/me/accounts/corp", token: token}).
		wantProblem(t, http.StatusConflict, "last_login_method")
	wantSignedIn(t, newBrowser(t).mustLink(o.env, "github", token), "/account")
	o.do(req{method: "DELETE", path: "/v1/me/accounts/corp", token: token}).wantStatus(t, http.StatusNoContent)
	if got := o.whoami(token).providers(); got != "github:oauth" {
		t.Errorf("accounts %s, want github:oauth", got)
	}
}
