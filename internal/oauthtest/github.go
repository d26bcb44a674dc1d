package oauthtest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// GitHubUser is the person signed in at the fake GitHub.
type GitHubUser struct {
	ID        int64
	Login     string
	Name      string
	AvatarURL string
	Emails    []GitHubEmail
}

// GitHubEmail is one address of /user/emails.
type GitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// GitHub is a fake GitHub laid out as GitHub Enterprise Server: one server
// with the web flow at WebURL (/login/oauth/authorize and
// /login/oauth/access_token) and the REST API at APIURL (WebURL + /api/v3:
// /user and /user/emails).
type GitHub struct {
	*authServer
	srv *httptest.Server

	// Guarded by authServer.mu:
	user         GitHubUser
	accessTokens map[string]GitHubUser
}

// NewGitHub starts a fake GitHub for one OAuth app; it stops when the test
// ends. Its user is octo (id 4242) whose primary, verified address is
// octo@example.com.
func NewGitHub(tb testing.TB, clientID, clientSecret string) *GitHub {
	tb.Helper()
	g := &GitHub{
		authServer:   newAuthServer(clientID, clientSecret),
		accessTokens: map[string]GitHubUser{},
		user: GitHubUser{ID: 4242, Login: "octo", Name: "Octo Cat", AvatarURL: "https://avatars.example.com/u/4242",
			Emails: []GitHubEmail{{Email: "octo@example.com", Primary: true, Verified: true}}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) { g.authorize(w, r, false) })
	mux.HandleFunc("/login/oauth/access_token", g.token)
	mux.HandleFunc("GET /api/v3/user", g.apiUser)
	mux.HandleFunc("GET /api/v3/user/emails", g.apiEmails)
	g.srv = httptest.NewServer(g.serve(mux))
	tb.Cleanup(g.srv.Close)
	return g
}

// WebURL is GITHUB_URL for the fake.
func (g *GitHub) WebURL() string { return g.srv.URL }

// APIURL is GITHUB_API_URL for the fake.
func (g *GitHub) APIURL() string { return g.srv.URL + "/api/v3" }

// Client returns an HTTP client for the fake's server.
func (g *GitHub) Client() *http.Client { return g.srv.Client() }

// SetUser makes u (with its email list) the user of every later authorization.
func (g *GitHub) SetUser(u GitHubUser) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.user = u
}

// User returns the current user.
func (g *GitHub) User() GitHubUser {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.user
}

// token answers like GitHub: JSON when the client accepts it, else a form;
// errors are a 200 with an error field, as GitHub's are (x/oauth2 reads
// both).
func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	asJSON := strings.Contains(r.Header.Get("Accept"), "json")
	answer := func(v map[string]any) {
		if asJSON {
			writeJSON(w, http.StatusOK, v)
			return
		}
		f := url.Values{}
		for k, s := range v {
			f.Set(k, fmt.Sprint(s))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.Write([]byte(f.Encode()))
	}
	auth, terr := g.exchange(r)
	if terr != nil {
		g.counts.Refused++
		code := terr.code
		if code == "invalid_grant" {
			code = "bad_verification_code"
		} else if code == "invalid_client" {
			code = "incorrect_client_credentials"
		}
		answer(map[string]any{"error": code, "error_description": terr.desc})
		return
	}
	t := Tokens{AccessToken: "gho_" + rand.Text(), RefreshToken: "ghr_" + rand.Text()}
	g.accessTokens[t.AccessToken] = g.user
	g.issued = append(g.issued, t)
	scope := strings.Join(strings.Fields(strings.ReplaceAll(auth.Scope, ",", " ")), ",")
	answer(map[string]any{"access_token": t.AccessToken, "refresh_token": t.RefreshToken,
		"expires_in": 28800, "token_type": "bearer", "scope": scope})
}

// caller returns the user of the request's bearer token, answering 401 and
// false when there is none.
func (g *GitHub) caller(w http.ResponseWriter, r *http.Request) (GitHubUser, bool) {
	u, ok := g.accessTokens[bearer(r)]
	if !ok {
		g.counts.Refused++
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
	}
	return u, ok
}

func (g *GitHub) apiUser(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	g.counts.Userinfo++
	// The public email is whatever the user chose to show: here the
	// first address, verified or not, which a client must not trust.
	var public *string
	if len(u.Emails) > 0 {
		public = &u.Emails[0].Email
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": u.ID, "login": u.Login, "name": u.Name, "avatar_url": u.AvatarURL, "email": public,
	})
}

func (g *GitHub) apiEmails(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	g.counts.Emails++
	emails := u.Emails
	if emails == nil {
		emails = []GitHubEmail{}
	}
	writeJSON(w, http.StatusOK, emails)
}
