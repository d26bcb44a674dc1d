package oauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
)

const redirect = "http://app.example.test/callback"

// noRedirects is a browser that stops at each redirect.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// approve visits an authorization URL as the browser would and returns the
// query the provider sent back to the redirect URI.
func approve(t *testing.T, authURL string) url.Values {
	t.Helper()
	res, err := noRedirects.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, want 302", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect {
		t.Fatalf("redirected to %s, want %s", got, redirect)
	}
	return loc.Query()
}

// oidcFlow runs discovery and one authorization with x/oauth2 and go-oidc
// and returns what a client has after the exchange.
type oidcFlow struct {
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	nonce    string
	pkce     string
}

func newOIDCFlow(t *testing.T, p *oauthtest.OIDC) *oidcFlow {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), p.Client())
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &oidcFlow{
		provider: provider,
		conf: oauth2.Config{ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), Endpoint: provider.Endpoint(),
			RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: p.ClientID()}),
		nonce:    "n-" + strings.Repeat("x", 20),
		pkce:     oauth2.GenerateVerifier(),
	}
}

// run authorizes and exchanges the code; it returns the token and the
// verified ID token, or the first error.
func (f *oidcFlow) run(t *testing.T, p *oauthtest.OIDC) (*oauth2.Token, *oidc.IDToken, error) {
	t.Helper()
	q := approve(t, f.conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(f.pkce), oidc.Nonce(f.nonce)))
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("callback query %v, want the state and a code", q)
	}
	ctx := oidc.ClientContext(context.Background(), p.Client())
	tok, err := f.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.pkce))
	if err != nil {
		return nil, nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.verifier.Verify(ctx, raw)
	if err != nil {
		return tok, nil, err
	}
	if idt.Nonce != f.nonce {
		return tok, idt, errors.New("nonce mismatch")
	}
	return tok, idt, nil
}

func TestOIDCRoundTrip(t *testing.T) {
	t.Parallel()
	p := oauthtest.NewOIDC(t, "client-1", "secret-1")
	p.SetRedirectURI(redirect)
	f := newOIDCFlow(t, p)
	tok, idt, err := f.run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	u := p.User()
	if idt.Subject != u.Sub || claims.Email != u.Email || !claims.EmailVerified || claims.Name != u.Name {
		t.Errorf("ID token sub %q claims %+v, want the user %+v", idt.Subject, claims, u)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token %+v lacks a refresh token, type or expiry", tok)
	}
	issued := p.Issued()
	if len(issued) != 1 || issued[0].AccessToken != tok.AccessToken || issued[0].IDToken != tok.Extra("id_token") {
		t.Errorf("Issued() = %+v, want the one exchange's tokens", issued)
	}
	a, ok := p.LastAuthorization()
	if !ok || a.Nonce != f.nonce || a.CodeChallengeMethod != "S256" || a.State != "st4te" {
		t.Errorf("LastAuthorization() = %+v, %v", a, ok)
	}

	// The ID token without the profile: userinfo has it.
	p.SetProfileInIDToken(false)
	tok, idt, err = f.run(t, p)
	if err != nil {
		t.Fatal(err)
	}
	claims.Email = ""
	idt.Claims(&claims)
	if claims.Email != "" {
		t.Errorf("ID token carries email %q, want only sub", claims.Email)
	}
	ctx := oidc.ClientContext(context.Background(), p.Client())
	info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != u.Sub || info.Email != u.Email || !info.EmailVerified {
		t.Errorf("userinfo %+v, want the user %+v", info, u)
	}
	p.SetUserinfoSub("someone-else")
	if info, err = f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || info.Subject != "someone-else" {
		t.Errorf("userinfo sub %v (%v), want someone-else", info, err)
	}
	if c := p.Counts(); c.Authorizations != 2 || c.Exchanges != 2 || c.Userinfo != 2 || c.Discovery != 1 || c.Refused != 0 {
		t.Errorf("counts %+v", c)
	}
}

func TestOIDCTamper(t *testing.T) {
	t.Parallel()
	p := oauthtest.NewOIDC(t, "client-1", "secret-1")
	f := newOIDCFlow(t, p)
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
		{"alg none", oauthtest.AlgNone},
	} {
		p.TamperNext(tt.tamper)
		if _, _, err := f.run(t, p); err == nil {
			t.Errorf("%s: the ID token verified", tt.name)
		}
	}
	// Tampering lasts for one token.
	if _, _, err := f.run(t, p); err != nil {
		t.Errorf("untampered token: %v", err)
	}
}

// TestOIDCRefuses checks the checks the fake makes of a client.
func TestOIDCRefuses(t *testing.T) {
	t.Parallel()
	p := oauthtest.NewOIDC(t, "client-1", "secret-1")
	p.SetRedirectURI(redirect)
	f := newOIDCFlow(t, p)
	ctx := oidc.ClientContext(context.Background(), p.Client())

	for _, tt := range []struct {
		name   string
		mutate func(v url.Values)
	}{
		{"unknown client", func(v url.Values) { v.Set("client_id", "nope") }},
		{"other redirect", func(v url.Values) { v.Set("redirect_uri", "http://evil.example/cb") }},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }},
		{"no openid", func(v url.Values) { v.Set("scope", "email") }},
		{"token response type", func(v url.Values) { v.Set("response_type", "token") }},
	} {
		u, _ := url.Parse(f.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(f.pkce)))
		q := u.Query()
		tt.mutate(q)
		u.RawQuery = q.Encode()
		res, err := noRedirects.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: authorize answered %d, want 400", tt.name, res.StatusCode)
		}
	}

	code := func() string {
		return approve(t, f.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(f.pkce))).Get("code")
	}
	// A wrong verifier, a used code, a wrong secret (in the header and in the form).
	if _, err := f.conf.Exchange(ctx, code(), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with another verifier succeeded")
	}
	if _, err := f.conf.Exchange(ctx, code()); err == nil {
		t.Error("exchange without a verifier succeeded")
	}
	c := code()
	if _, err := f.conf.Exchange(ctx, c, oauth2.VerifierOption(f.pkce)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conf.Exchange(ctx, c, oauth2.VerifierOption(f.pkce)); err == nil {
		t.Error("a code was exchanged twice")
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		bad := f.conf
		bad.Endpoint.AuthStyle = style
		bad.ClientSecret = "wrong"
		if _, err := bad.Exchange(ctx, code(), oauth2.VerifierOption(f.pkce)); err == nil {
			t.Errorf("style %d: exchange with a wrong secret succeeded", style)
		}
		good := f.conf
		good.Endpoint.AuthStyle = style
		if _, err := good.Exchange(ctx, code(), oauth2.VerifierOption(f.pkce)); err != nil {
			t.Errorf("style %d: %v", style, err)
		}
	}

	p.DenyNext()
	if q := approve(t, f.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(f.pkce))); q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "s" {
		t.Errorf("denied callback query %v, want error=access_denied with the state and no code", q)
	}
	res, err := http.Get(p.Issuer() + "/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo without a token answered %d, want 401", res.StatusCode)
	}
}

func TestOIDCDiscoveryDown(t *testing.T) {
	t.Parallel()
	p := oauthtest.NewOIDC(t, "c", "s")
	p.SetDiscoveryDown(true)
	if _, err := oidc.NewProvider(context.Background(), p.Issuer()); err == nil {
		t.Fatal("discovery succeeded while down")
	}
	p.SetDiscoveryDown(false)
	if _, err := oidc.NewProvider(context.Background(), p.Issuer()); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCClock(t *testing.T) {
	t.Parallel()
	p := oauthtest.NewOIDC(t, "c", "s")
	past := time.Now().Add(-3 * time.Hour)
	p.SetClock(func() time.Time { return past })
	f := newOIDCFlow(t, p)
	if _, _, err := f.run(t, p); err == nil {
		t.Error("a token issued three hours ago verified now")
	}
	f.verifier = f.provider.Verifier(&oidc.Config{ClientID: "c", Now: func() time.Time { return past }})
	if _, _, err := f.run(t, p); err != nil {
		t.Errorf("with the client on the same clock: %v", err)
	}
}

func TestGitHubRoundTrip(t *testing.T) {
	t.Parallel()
	g := oauthtest.NewGitHub(t, "gh-client", "gh-secret")
	g.SetRedirectURI(redirect)
	g.SetUser(oauthtest.GitHubUser{ID: 7, Login: "x", Name: "X", AvatarURL: "https://a/7", Emails: []oauthtest.GitHubEmail{
		{Email: "old@example.com", Verified: true},
		{Email: "x@example.com", Primary: true, Verified: true},
	}})
	conf := oauth2.Config{ClientID: "gh-client", ClientSecret: "gh-secret", RedirectURL: redirect,
		Scopes: []string{"user:email"}, Endpoint: oauth2.Endpoint{
			AuthURL: g.WebURL() + "/login/oauth/authorize", TokenURL: g.WebURL() + "/login/oauth/access_token"}}
	verifier := oauth2.GenerateVerifier()
	q := approve(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, g.Client())
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption("wrong-"+verifier)); err == nil {
		t.Fatal("exchange with a wrong verifier succeeded")
	}
	q = approve(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := g.LastAuthorization(); a.Scope != "user:email" || a.State != "st" {
		t.Errorf("authorization %+v", a)
	}
	client := conf.Client(ctx, tok)
	var user struct {
		ID        int64  `json:"id"`
		Login     string `json:"login"`
		Name      string `json:"name"`
		AvatarURL string `json:"avatar_url"`
	}
	getJSON(t, client, g.APIURL()+"/user", &user)
	if user.ID != 7 || user.Login != "x" || user.Name != "X" || user.AvatarURL != "https://a/7" {
		t.Errorf("/user = %+v", user)
	}
	var emails []oauthtest.GitHubEmail
	getJSON(t, client, g.APIURL()+"/user/emails", &emails)
	if len(emails) != 2 || !emails[1].Primary || emails[1].Email != "x@example.com" {
		t.Errorf("/user/emails = %+v", emails)
	}
	res, err := http.Get(g.APIURL() + "/user")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/user without a token answered %d, want 401", res.StatusCode)
	}
	g.DenyNext()
	if q := approve(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))); q.Get("error") != "access_denied" {
		t.Errorf("denied: %v", q)
	}
	if c := g.Counts(); c.Exchanges != 1 || c.Userinfo != 1 || c.Emails != 1 || c.Authorizations != 3 {
		t.Errorf("counts %+v", c)
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestOverride(t *testing.T) {
	t.Parallel()
	g := oauthtest.NewGitHub(t, "c", "s")
	g.Override("/api/v3/user", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	get := func() int {
		res, err := http.Get(g.APIURL() + "/user")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := get(); s != http.StatusTeapot {
		t.Errorf("overridden /user answered %d, want 418", s)
	}
	g.Override("/api/v3/user", nil)
	if s := get(); s != http.StatusUnauthorized {
		t.Errorf("restored /user answered %d, want 401", s)
	}
}
