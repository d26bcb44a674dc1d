package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
)

// Flows against whoever learns a state, and flows that outlive their
// session (the review of issue 10).

// flowCookieSet returns the oauth_flow cookie r sets, or nil.
func flowCookieSet(r *response) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "oauth_flow" {
			return c
		}
	}
	return nil
}

// TestOAuthLinkSessionRevoked: a link flow dies with the session that
// started it. Whether the session ends before the callback or while the
// callback talks to the provider, nothing is linked and no session opened.
func TestOAuthLinkSessionRevoked(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.gh.SetUser(oauthtest.GitHubUser{ID: 4242, Login: "lena", Name: "Lena",
		Emails: []oauthtest.GitHubEmail{{Email: "lena.gh@example.com", Primary: true, Verified: true}}})
	linkURL := func(b *browser, token string) string {
		t.Helper()
		r := b.link(o.env, "github", token)
		r.wantStatus(t, http.StatusOK)
		var body struct {
			URL string `json:"url"`
		}
		r.JSON(t, &body)
		return body.URL
	}
	wantNotLinked := func(t *testing.T, r *response, user string) {
		t.Helper()
		wantOAuthError(t, r, "oauth_failed")
		if n := o.count(`SELECT count(*) FROM accounts WHERE user_id = $1`, user); n != 0 {
			t.Errorf("%d accounts linked to the user, want 0", n)
		}
		if n := o.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, user); n != 0 {
			t.Errorf("%d sessions of the user, want 0", n)
		}
	}

	t.Run("signed out before the callback", func(t *testing.T) {
		id := o.seedPasswordUser("lena1@example.com", goodPassword)
		token := o.seedSession(id)
		b := newBrowser(t)
		cb := b.authorize(linkURL(b, token))
		// The user signs that session out: DELETE /v1/me/sessions/{id}.
		var sid string
		if err := o.pool.QueryRow(context.Background(), `SELECT id FROM sessions WHERE user_id = $1`, id).Scan(&sid); err != nil {
			t.Fatal(err)
		}
		o.do(req{method: "DELETE", path: "/v1/me/sessions/" + sid, token: token}).wantStatus(t, http.StatusNoContent)
		wantNotLinked(t, b.get(o.env, cb), id)
	})

	t.Run("sessions revoked during the exchange", func(t *testing.T) {
		id := o.seedPasswordUser("lena2@example.com", goodPassword)
		o.gh.SetUser(oauthtest.GitHubUser{ID: 4343, Login: "lena2", Name: "Lena",
			Emails: []oauthtest.GitHubEmail{{Email: "lena2.gh@example.com", Primary: true, Verified: true}}})
		token := o.seedSession(id)
		b := newBrowser(t)
		cb := b.authorize(linkURL(b, token))
		// After the flow is consumed and the code exchanged, while the
		// service reads the profile, all the user's sessions end (what a
		// password reset or a deactivation does).
		o.gh.Override("/api/v3/user", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := o.pool.Exec(context.Background(), `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":4343,"login":"lena2","name":"Lena","avatar_url":"","email":null}`))
		}))
		defer o.gh.Override("/api/v3/user", nil)
		wantNotLinked(t, b.get(o.env, cb), id)
	})
}

// TestOAuthCallbackFromAnotherBrowser: whoever learns a state (a leaked
// callback URL) cannot use it, nor spoil the flow of the browser that
// started it: that browser's callback still succeeds afterwards.
func TestOAuthCallbackFromAnotherBrowser(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetUser(oauthtest.User{Sub: "leak-1", Email: "leak@example.com", EmailVerified: true})
	b := newBrowser(t)
	cb := b.authorize(b.mustStart(o.env, "corp", "/after"))

	// A browser without a flow cookie.
	wantOAuthError(t, newBrowser(t).get(o.env, cb), "oauth_failed")
	// A browser with a flow cookie of its own.
	attacker := newBrowser(t)
	attacker.mustStart(o.env, "corp", "/")
	wantOAuthError(t, attacker.get(o.env, cb), "oauth_failed")

	wantSignedIn(t, b.get(o.env, cb), "/after")
	if n := o.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

// TestOAuthStrayCallbackKeepsCookie: a callback with an unknown state (a
// cross-site link to the callback) leaves the flow cookie, so the flow in
// progress still finishes; the callback that uses the flow up clears it.
func TestOAuthStrayCallbackKeepsCookie(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	o.corp.SetUser(oauthtest.User{Sub: "stray-1", Email: "stray@example.com", EmailVerified: true})
	b := newBrowser(t)
	cb := b.authorize(b.mustStart(o.env, "corp", "/"))

	for _, path := range []string{
		"/v1/auth/oauth/corp/callback?state=" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + "&code=forged",
		"/v1/auth/oauth/corp/callback?code=forged",
		"/v1/auth/oauth/nosuch/callback?state=x&code=y",
	} {
		r := b.get(o.env, path)
		wantOAuthError(t, r, "oauth_failed")
		if c := flowCookieSet(r); c != nil {
			t.Errorf("stray callback %s set the flow cookie %+v", path, c)
		}
	}

	r := b.get(o.env, cb)
	wantSignedIn(t, r, "/")
	if c := flowCookieSet(r); c == nil || c.MaxAge >= 0 {
		t.Errorf("the finishing callback left the flow cookie (%+v)", c)
	}

	// A failure after the flow was used up clears it too.
	b = newBrowser(t)
	o.corp.DenyNext()
	r = b.get(o.env, b.authorize(b.mustStart(o.env, "corp", "/")))
	wantOAuthError(t, r, "oauth_denied")
	if c := flowCookieSet(r); c == nil || c.MaxAge >= 0 {
		t.Errorf("the denied callback left the flow cookie (%+v)", c)
	}
}
