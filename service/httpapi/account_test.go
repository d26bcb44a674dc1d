package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/mail"
)

type meUser struct {
	ID          string  `json:"id"`
	Name        *string `json:"name"`
	Image       *string `json:"image"`
	Role        string  `json:"role"`
	IsActive    bool    `json:"isActive"`
	HasPassword bool    `json:"hasPassword"`
	UpdatedAt   string  `json:"updatedAt"`
	Accounts    []struct {
		Provider string `json:"provider"`
	} `json:"accounts"`
}

func (e *env) me(token string) meUser {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/v1/me", token: token})
	r.wantStatus(e.t, http.StatusOK)
	var u meUser
	r.JSON(e.t, &u)
	return u
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.mustSignUp("Ada", "ada@example.com", goodPassword).Session.Token
	longURL := "https://example.com/" + strings.Repeat("a", 2048-len("https://example.com/"))

	for _, tt := range []struct {
		name      string
		body      string
		status    int
		code      string // problem code, or "" for success
		field     string // the field error expected with a 422
		wantName  string
		wantImage string
	}{
		{"nothing", `{}`, 200, "", "", "Ada", "<nil>"},
		{"name trimmed", `{"name":"  Ada Lovelace  "}`, 200, "", "", "Ada Lovelace", "<nil>"},
		{"image", `{"image":"https://example.com/ada.png"}`, 200, "", "", "Ada Lovelace", "https://example.com/ada.png"},
		{"name leaves image", `{"name":"Ada"}`, 200, "", "", "Ada", "https://example.com/ada.png"},
		{"image cleared", `{"image":null}`, 200, "", "", "Ada", "<nil>"},
		{"image at the limit", `{"image":"` + longURL + `"}`, 200, "", "", "Ada", longURL},
		{"both", `{"name":"Grace","image":"http://example.com/g.png"}`, 200, "", "", "Grace", "http://example.com/g.png"},
		{"empty name", `{"name":"   "}`, 422, "validation_failed", "name", "", ""},
		{"long name", `{"name":"` + strings.Repeat("x", 101) + `"}`, 422, "validation_failed", "name", "", ""},
		{"control in name", `{"name":"a\u0000b"}`, 422, "validation_failed", "name", "", ""},
		{"image too long", `{"image":"` + longURL + `a"}`, 422, "validation_failed", "image", "", ""},
		{"image not http", `{"image":"javascript:alert(1)"}`, 422, "validation_failed", "image", "", ""},
		{"image ftp", `{"image":"ftp://example.com/a.png"}`, 422, "validation_failed", "image", "", ""},
		{"image relative", `{"image":"/a.png"}`, 422, "validation_failed", "image", "", ""},
		{"image empty", `{"image":""}`, 422, "validation_failed", "image", "", ""},
		{"image with credentials", `{"image":"https://user:pw@example.com/a.png"}`, 422, "validation_failed", "image", "", ""},
		{"null name", `{"name":null}`, 400, "invalid_json", "", "", ""},
		{"role", `{"role":"admin"}`, 400, "invalid_json", "", "", ""},
		{"isActive", `{"isActive":false}`, 400, "invalid_json", "", "", ""},
		{"emailVerified", `{"emailVerified":null}`, 400, "invalid_json", "", "", ""},
		{"image wrong type", `{"image":5}`, 400, "invalid_json", "", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.me(token)
			r := e.do(req{method: "PATCH", path: "/v1/me", body: tt.body, token: token})
			if tt.code != "" {
				p := r.wantProblem(t, tt.status, tt.code)
				if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
					t.Errorf("errors = %+v, want one for %s", p.Errors, tt.field)
				}
				if after := e.me(token); deref(after.Name) != deref(before.Name) || deref(after.Image) != deref(before.Image) {
					t.Errorf("a refused update changed the user to %+v", after)
				}
				return
			}
			r.wantStatus(t, tt.status)
			var u meUser
			r.JSON(t, &u)
			if deref(u.Name) != tt.wantName || deref(u.Image) != tt.wantImage {
				t.Errorf("name, image = %q, %q; want %q, %q", deref(u.Name), deref(u.Image), tt.wantName, tt.wantImage)
			}
			if u.Role != "user" || !u.IsActive {
				t.Errorf("role, isActive = %q, %v; want user, true", u.Role, u.IsActive)
			}
			if tt.body == `{}` && u.UpdatedAt != before.UpdatedAt {
				t.Errorf("updatedAt = %s, want unchanged %s", u.UpdatedAt, before.UpdatedAt)
			}
		})
	}
}

func TestCookieOriginCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.mustSignUp("Ada", "ada@example.com", goodPassword).Session.Token
	patch := `{"name":"Ada"}`
	for _, tt := range []struct {
		name   string
		method string
		header map[string]string
		token  string
		status int
	}{
		{"cookie, foreign origin", "PATCH", cookieHeader(token, "https://evil.example"), "", 403},
		{"cookie, own origin", "PATCH", cookieHeader(token, baseURL), "", 200},
		{"cookie, no origin", "PATCH", cookieHeader(token, ""), "", 200},
		{"bearer, foreign origin", "PATCH", map[string]string{"Origin": "https://evil.example"}, token, 200},
		{"cookie GET, foreign origin", "GET", cookieHeader(token, "https://evil.example"), "", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: tt.method, path: "/v1/me", header: tt.header, token: tt.token}
			if tt.method == "PATCH" {
				r.body = patch
			}
			res := e.do(r)
			if tt.status == 403 {
				res.wantProblem(t, 403, "forbidden")
				return
			}
			res.wantStatus(t, tt.status)
		})
	}
	// The check covers every unsafe /v1/me route.
	for _, r := range []req{
		{method: "DELETE", path: "/v1/me", body: `{"password":"` + goodPassword + `"}`},
		{method: "PUT", path: "/v1/me/password", body: `{"currentPassword":"` + goodPassword + `","newPassword":"another good passphrase"}`},
		{method: "DELETE", path: "/v1/me/sessions/whatever"},
		{method: "POST", path: "/v1/auth/logout"},
	} {
		r.header = cookieHeader(token, "https://evil.example")
		e.do(r).wantProblem(t, 403, "forbidden")
	}
	e.me(token)
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	b := e.mustLogin("ada@example.com", goodPassword)
	resetTok := e.mustResetToken("ada@example.com")
	change := func(body string) *response {
		return e.do(req{method: "PUT", path: "/v1/me/password", body: body, token: a.Session.Token})
	}

	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"wrong current", `{"currentPassword":"not my password","newPassword":"a brand new passphrase"}`, 403, "invalid_credentials"},
		{"missing current", `{"newPassword":"a brand new passphrase"}`, 403, "invalid_credentials"},
		{"weak new", `{"currentPassword":"` + goodPassword + `","newPassword":"short"}`, 422, "validation_failed"},
		{"common new", `{"currentPassword":"` + goodPassword + `","newPassword":"password123"}`, 422, "validation_failed"},
		{"unknown field", `{"currentPassword":"` + goodPassword + `","newPassword":"a brand new passphrase","x":1}`, 400, "invalid_json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := change(tt.body).wantProblem(t, tt.status, tt.code)
			if tt.status == 422 && (len(p.Errors) != 1 || p.Errors[0].Field != "newPassword") {
				t.Errorf("errors = %+v, want one for newPassword", p.Errors)
			}
		})
	}
	e.mustLogin("ada@example.com", goodPassword) // nothing changed

	r := change(`{"currentPassword":"` + goodPassword + `","newPassword":"a brand new passphrase"}`)
	r.wantStatus(t, http.StatusNoContent)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	// The calling session stays; every other one is revoked.
	e.me(a.Session.Token)
	e.do(req{method: "GET", path: "/v1/me", token: b.Session.Token}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	e.mustLogin("ada@example.com", "a brand new passphrase")
	// Outstanding reset links die with the old password.
	e.resetPassword(resetTok, "yet another passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	if n := e.countSubjectTo("ada@example.com", mail.SubjectPasswordChanged); n != 1 {
		t.Errorf("password changed notices = %d, want 1", n)
	}
	if n := e.countEvents(a.User.ID, "password_changed"); n != 1 {
		t.Errorf("password_changed events = %d, want 1", n)
	}
}

// A stolen session cannot be used to guess the password.
func TestChangePasswordThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.mustSignUp("Ada", "ada@example.com", goodPassword).Session.Token
	for range 10 {
		e.do(req{method: "PUT", path: "/v1/me/password", token: token,
			body: `{"currentPassword":"not my password","newPassword":"a brand new passphrase"}`,
		}).wantProblem(t, http.StatusForbidden, "invalid_credentials")
	}
	r := e.do(req{method: "PUT", path: "/v1/me/password", token: token,
		body: `{"currentPassword":"` + goodPassword + `","newPassword":"a brand new passphrase"}`})
	r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	wantRetryAfter(t, r, 15*time.Minute)
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	e.do(req{method: "DELETE", path: "/v1/me", token: token, body: `{"password":"` + goodPassword + `"}`}).
		wantProblem(t, http.StatusTooManyRequests, "rate_limited")
}

func TestChangePasswordWithoutOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("oauth@example.com", "")
	token := e.seedSession(id)
	other := e.seedSession(id)
	// currentPassword is ignored when the user has none.
	e.do(req{method: "PUT", path: "/v1/me/password", token: token,
		body: `{"currentPassword":"whatever","newPassword":"a brand new passphrase"}`}).wantStatus(t, http.StatusNoContent)
	if u := e.me(token); !u.HasPassword {
		t.Error("hasPassword = false, want true")
	}
	e.do(req{method: "GET", path: "/v1/me", token: other}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	e.mustLogin("oauth@example.com", "a brand new passphrase")
	// From now on the password is required.
	e.do(req{method: "PUT", path: "/v1/me/password", token: token,
		body: `{"newPassword":"yet another passphrase"}`}).wantProblem(t, http.StatusForbidden, "invalid_credentials")
}

func TestDeleteMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	b := e.mustLogin("ada@example.com", goodPassword)
	e.seedAccount(a.User.ID, "github")
	del := func(r req) *response {
		r.method, r.path = "DELETE", "/v1/me"
		return e.do(r)
	}

	for _, tt := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"no body", req{token: a.Session.Token}, 403, "invalid_credentials"},
		{"empty object", req{token: a.Session.Token, body: `{}`}, 403, "invalid_credentials"},
		{"wrong password", req{token: a.Session.Token, body: `{"password":"not my password"}`}, 403, "invalid_credentials"},
		{"not json", req{token: a.Session.Token, body: `password`}, 400, "invalid_json"},
		{"other content type", req{token: a.Session.Token, body: `{"password":"x"}`,
			header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported_media_type"},
		{"unknown field", req{token: a.Session.Token, body: `{"password":"x","force":true}`}, 400, "invalid_json"},
		{"unauthenticated", req{body: `{"password":"` + goodPassword + `"}`}, 401, "unauthenticated"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			del(tt.r).wantProblem(t, tt.status, tt.code)
		})
	}
	e.me(a.Session.Token)

	r := del(req{header: cookieHeader(a.Session.Token, baseURL), body: `{"password":"` + goodPassword + `"}`})
	r.wantStatus(t, http.StatusNoContent)
	wantCookieCleared(t, r)
	for _, tok := range []string{a.Session.Token, b.Session.Token} {
		e.do(req{method: "GET", path: "/v1/me", token: tok}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	}
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	for _, table := range []string{"users", "credentials", "accounts", "sessions"} {
		if n := e.countRows(table); n != 0 {
			t.Errorf("%s rows = %d, want 0", table, n)
		}
	}
	if n := e.countEvents(a.User.ID, "account_deleted"); n != 1 {
		t.Errorf("account_deleted events = %d, want 1", n)
	}
	// The address is free again (once the per-address mail limit allows a new mail).
	e.clock.Advance(61 * time.Second)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
}

func TestDeleteMeWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"empty object", `{}`},
		{"a password anyway", `{"password":"whatever"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := e.seedUser(strings.ReplaceAll(tt.name, " ", "-")+"@example.com", "")
			e.seedAccount(id, "github")
			token := e.seedSession(id)
			e.do(req{method: "DELETE", path: "/v1/me", token: token, body: tt.body}).wantStatus(t, http.StatusNoContent)
			e.do(req{method: "GET", path: "/v1/me", token: token}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
		})
	}
}

type sessionList struct {
	Sessions []struct {
		ID         string `json:"id"`
		CreatedAt  string `json:"createdAt"`
		LastUsedAt string `json:"lastUsedAt"`
		ExpiresAt  string `json:"expiresAt"`
		UserAgent  string `json:"userAgent"`
		IP         string `json:"ip"`
		Current    bool   `json:"current"`
	} `json:"sessions"`
}

func (e *env) sessions(token string) sessionList {
	e.t.Helper()
	r := e.do(req{method: "GET", path: "/v1/me/sessions", token: token})
	r.wantStatus(e.t, http.StatusOK)
	var l sessionList
	r.JSON(e.t, &l)
	return l
}

func TestSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	b := e.mustLogin("ada@example.com", goodPassword)
	rc := e.login("ada@example.com", goodPassword, map[string]string{"User-Agent": "phone/1.0"})
	rc.wantStatus(t, http.StatusOK)
	var c authResult
	rc.JSON(t, &c)
	stranger := e.mustSignUp("Bob", "bob@example.com", goodPassword)

	l := e.sessions(b.Session.Token)
	if len(l.Sessions) != 3 {
		t.Fatalf("sessions = %d, want 3", len(l.Sessions))
	}
	var current, phone string
	for _, s := range l.Sessions {
		if s.Current {
			if current != "" {
				t.Error("more than one session is current")
			}
			current = s.ID
		}
		if s.UserAgent == "phone/1.0" {
			phone = s.ID
		}
		if s.IP == "" || s.CreatedAt == "" || s.LastUsedAt == "" || s.ExpiresAt == "" {
			t.Errorf("session %+v lacks a field", s)
		}
	}
	if current == "" || phone == "" || current == phone {
		t.Fatalf("current %q, phone %q: want two different sessions", current, phone)
	}
	for _, s := range e.sessions(stranger.Session.Token).Sessions {
		if s.ID == phone || s.ID == current {
			t.Fatal("another user sees this user's sessions")
		}
	}
	strangerSession := e.sessions(stranger.Session.Token).Sessions[0].ID

	revoke := func(token, id string, header map[string]string) *response {
		return e.do(req{method: "DELETE", path: "/v1/me/sessions/" + id, token: token, header: header})
	}
	revoke(b.Session.Token, phone, nil).wantStatus(t, http.StatusNoContent)
	e.do(req{method: "GET", path: "/v1/me", token: c.Session.Token}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	revoke(b.Session.Token, phone, nil).wantProblem(t, http.StatusNotFound, "not_found")
	revoke(b.Session.Token, "no-such-session", nil).wantProblem(t, http.StatusNotFound, "not_found")
	revoke(b.Session.Token, strangerSession, nil).wantProblem(t, http.StatusNotFound, "not_found")
	e.me(stranger.Session.Token)
	if n := e.countEvents(a.User.ID, "session_revoked"); n != 1 {
		t.Errorf("session_revoked events = %d, want 1", n)
	}

	// Revoking the current session signs out.
	r := revoke("", current, cookieHeader(b.Session.Token, baseURL))
	r.wantStatus(t, http.StatusNoContent)
	wantCookieCleared(t, r)
	e.do(req{method: "GET", path: "/v1/me", token: b.Session.Token}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	if l := e.sessions(a.Session.Token); len(l.Sessions) != 1 || !l.Sessions[0].Current {
		t.Errorf("sessions = %+v, want only the current one", l.Sessions)
	}
	e.do(req{method: "GET", path: "/v1/me/sessions"}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
}

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	b := e.mustLogin("ada@example.com", goodPassword)
	r := e.do(req{method: "POST", path: "/v1/auth/logout", token: a.Session.Token})
	r.wantStatus(t, http.StatusNoContent)
	wantCookieCleared(t, r)
	e.do(req{method: "GET", path: "/v1/me", token: a.Session.Token}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	e.me(b.Session.Token)
}

func TestUnlinkAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("oauth@example.com", "")
	e.seedAccount(id, "github")
	e.seedAccount(id, "github")
	e.seedAccount(id, "google")
	token := e.seedSession(id)
	unlink := func(provider string) *response {
		return e.do(req{method: "DELETE", path: "/v1/me/accounts/" + provider, token: token})
	}

	unlink("github").wantStatus(t, http.StatusNoContent)
	if u := e.me(token); len(u.Accounts) != 1 || u.Accounts[0].Provider != "google" {
		t.Errorf("accounts = %+v, want only google", u.Accounts)
	}
	unlink("github").wantProblem(t, http.StatusNotFound, "not_found")
	unlink("gitlab").wantProblem(t, http.StatusNotFound, "not_found")
	unlink("google").wantProblem(t, http.StatusConflict, "last_login_method")
	if u := e.me(token); len(u.Accounts) != 1 {
		t.Errorf("accounts = %+v, want google kept", u.Accounts)
	}

	// With a password, the last provider may go.
	e.do(req{method: "PUT", path: "/v1/me/password", token: token,
		body: `{"newPassword":"a brand new passphrase"}`}).wantStatus(t, http.StatusNoContent)
	unlink("google").wantStatus(t, http.StatusNoContent)
	if u := e.me(token); len(u.Accounts) != 0 || !u.HasPassword {
		t.Errorf("user = %+v, want no accounts and a password", u)
	}
	if n := e.countEvents(id, "account_unlinked"); n != 2 {
		t.Errorf("account_unlinked events = %d, want 2", n)
	}
}

// Two concurrent unlinks of a passwordless user's two providers: one wins,
// the other finds it would remove the last way to sign in.
func TestUnlinkAccountConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for round := range 5 {
		id := e.seedUser("oauth"+string(rune('a'+round))+"@example.com", "")
		e.seedAccount(id, "github")
		e.seedAccount(id, "google")
		token := e.seedSession(id)

		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, provider := range []string{"github", "google"} {
			wg.Go(func() {
				hr, _ := http.NewRequestWithContext(context.Background(), "DELETE", e.srv.URL+"/v1/me/accounts/"+provider, nil)
				hr.Header.Set("Authorization", "Bearer "+token)
				res, err := e.srv.Client().Do(hr)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				statuses[i] = res.StatusCode
			})
		}
		wg.Wait()
		if !(statuses[0] == 204 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 204) {
			t.Fatalf("round %d: statuses = %v, want one 204 and one 409", round, statuses)
		}
		if u := e.me(token); len(u.Accounts) != 1 {
			t.Fatalf("round %d: accounts = %+v, want one left", round, u.Accounts)
		}
	}
}

// Identical failures of the /v1/me routes have identical bodies too.
func TestMeFailuresAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := e.mustSignUp("Ada", "ada@example.com", goodPassword).Session.Token
	one := e.do(req{method: "DELETE", path: "/v1/me", token: token, body: `{"password":"wrong one"}`})
	two := e.do(req{method: "DELETE", path: "/v1/me", token: token})
	if !bytes.Equal(one.Body, two.Body) {
		t.Errorf("bodies differ: %s and %s", one.Body, two.Body)
	}
}
