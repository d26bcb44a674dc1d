package httpapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// adminUser is the user object as the admin routes return it.
type adminUser struct {
	ID          string  `json:"id"`
	Name        *string `json:"name"`
	Email       string  `json:"email"`
	IsActive    bool    `json:"isActive"`
	Role        string  `json:"role"`
	HasPassword bool    `json:"hasPassword"`
	Accounts    []struct {
		Provider string `json:"provider"`
		Type     string `json:"type"`
	} `json:"accounts"`
	CreatedAt string `json:"createdAt"`
}

type userListBody struct {
	Users      []adminUser `json:"users"`
	NextCursor *string     `json:"nextCursor"`
}

type eventBody struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	CreatedAt string  `json:"createdAt"`
	IP        string  `json:"ip"`
	UserAgent string  `json:"userAgent"`
	ActorID   *string `json:"actorId"`
	Detail    string  `json:"detail"`
}

type eventListBody struct {
	Events     []eventBody `json:"events"`
	NextCursor *string     `json:"nextCursor"`
}

// exec runs SQL against the test's database.
func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// mustSignUpAdmin signs a user up and makes them an admin.
func (e *env) mustSignUpAdmin(name, email string) authResult {
	e.t.Helper()
	res := e.mustSignUp(name, email, goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", res.User.ID)
	res.User.Role = "admin"
	return res
}

// seedUser inserts a verified, active user directly, for speed.
type seedUser struct {
	id, name, email string
	createdAt       time.Time
	password        bool   // give them a credential
	provider        string // link an account of this provider
}

func (e *env) mustSeedUsers(users ...seedUser) {
	e.t.Helper()
	for _, u := range users {
		var name *string
		if u.name != "" {
			name = &u.name
		}
		e.exec(`INSERT INTO users (id, name, email, email_verified, is_active, role, created_at, updated_at)
			VALUES ($1, $2, $3, $4, true, 'user', $4, $4)`, u.id, name, u.email, u.createdAt)
		if u.password {
			e.exec("INSERT INTO credentials (id, user_id, password_hash) VALUES ($1, $2, 'x')", "cred-"+u.id, u.id)
		}
		if u.provider != "" {
			e.exec(`INSERT INTO accounts (user_id, type, provider, provider_account_id, access_token)
				VALUES ($1, 'oauth', $2, $3, 'secret-access-token')`, u.id, u.provider, "acct-"+u.id)
		}
	}
}

// listUsers fetches one page of GET /v1/admin/users.
func (e *env) listUsers(t *testing.T, token string, params url.Values) userListBody {
	t.Helper()
	r := e.do(req{method: "GET", path: "/v1/admin/users?" + params.Encode(), token: token})
	r.wantStatus(t, http.StatusOK)
	if strings.Contains(string(r.Body), "secret-access-token") || strings.Contains(string(r.Body), "password_hash") {
		t.Fatalf("user list leaks a secret: %s", r.Body)
	}
	var page userListBody
	r.JSON(t, &page)
	return page
}

// allUserPages follows nextCursor from the first page and returns every
// user id in order. between runs after each page but the last.
func (e *env) allUserPages(t *testing.T, token string, params url.Values, between func()) []string {
	t.Helper()
	var ids []string
	for range 100 {
		page := e.listUsers(t, token, params)
		for _, u := range page.Users {
			ids = append(ids, u.ID)
		}
		if limit := params.Get("limit"); limit != "" && page.NextCursor != nil && fmt.Sprint(len(page.Users)) != limit {
			t.Fatalf("a page with a next cursor has %d users, want %s", len(page.Users), limit)
		}
		if page.NextCursor == nil {
			return ids
		}
		params.Set("cursor", *page.NextCursor)
		if between != nil {
			between()
		}
	}
	t.Fatal("pagination does not end")
	return nil
}

// listEvents fetches one page of a user's events.
func (e *env) listEvents(t *testing.T, token, userID string, params url.Values) eventListBody {
	t.Helper()
	r := e.do(req{method: "GET", path: "/v1/admin/users/" + userID + "/events?" + params.Encode(), token: token})
	r.wantStatus(t, http.StatusOK)
	var page eventListBody
	r.JSON(t, &page)
	return page
}

func patchUser(token, id string, body any) req {
	return req{method: "PATCH", path: "/v1/admin/users/" + id, token: token, body: body}
}

func TestAdminAuthorization(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	user := e.mustSignUp("User", "user@example.com", goodPassword)
	target := e.mustSignUp("Target", "target@example.com", goodPassword)
	id := target.User.ID

	for _, tt := range []struct {
		name   string
		r      req
		status int // for the admin
	}{
		{"list", req{method: "GET", path: "/v1/admin/users"}, http.StatusOK},
		{"get", req{method: "GET", path: "/v1/admin/users/" + id}, http.StatusOK},
		{"events", req{method: "GET", path: "/v1/admin/users/" + id + "/events"}, http.StatusOK},
		{"patch", req{method: "PATCH", path: "/v1/admin/users/" + id, body: map[string]any{"role": "user"}}, http.StatusOK},
		{"delete", req{method: "DELETE", path: "/v1/admin/users/" + id}, http.StatusNoContent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			e.do(r).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
			r.token = "not-a-session-token"
			e.do(r).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
			r.token = user.Session.Token
			e.do(r).wantProblem(t, http.StatusForbidden, "forbidden")
			r.token = admin.Session.Token
			got := e.do(r)
			got.wantStatus(t, tt.status)
			if cc := got.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
	// The deletion above really happened, and the user was not touched by
	// the refused attempts before it.
	e.do(req{method: "GET", path: "/v1/admin/users/" + id, token: admin.Session.Token}).
		wantProblem(t, http.StatusNotFound, "not_found")
	e.do(req{method: "DELETE", path: "/v1/admin/users/" + id, token: admin.Session.Token}).
		wantProblem(t, http.StatusNotFound, "not_found")
	e.do(patchUser(admin.Session.Token, id, map[string]any{"isActive": true})).
		wantProblem(t, http.StatusNotFound, "not_found")
}

func TestAdminGetUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	e.mustSeedUsers(seedUser{id: "oauth1", email: "o@example.com", createdAt: time.Now(), provider: "github"})

	r := e.do(req{method: "GET", path: "/v1/admin/users/oauth1", token: admin.Session.Token})
	r.wantStatus(t, http.StatusOK)
	var u adminUser
	r.JSON(t, &u)
	if u.ID != "oauth1" || u.Name != nil || u.HasPassword || len(u.Accounts) != 1 ||
		u.Accounts[0].Provider != "github" || u.Accounts[0].Type != "oauth" {
		t.Errorf("got %+v, want oauth1 without name or password, with a github account", u)
	}
	if strings.Contains(string(r.Body), "secret-access-token") {
		t.Errorf("user leaks the OAuth token: %s", r.Body)
	}
	e.do(req{method: "GET", path: "/v1/admin/users/nobody", token: admin.Session.Token}).
		wantProblem(t, http.StatusNotFound, "not_found")
}

func TestAdminUpdateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	target := e.mustSignUp("Target", "target@example.com", goodPassword)
	tok, id := admin.Session.Token, target.User.ID

	for _, tt := range []struct {
		name string
		body string
	}{
		{"unknown role", `{"role":"root"}`},
		{"empty role", `{"role":""}`},
		{"role in capitals", `{"role":"ADMIN"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := e.do(patchUser(tok, id, tt.body)).wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
			if len(p.Errors) != 1 || p.Errors[0].Field != "role" {
				t.Errorf("errors = %+v, want one for role", p.Errors)
			}
		})
	}
	for _, tt := range []struct {
		name string
		body string
	}{
		{"unknown field", `{"role":"admin","emailVerified":null}`},
		{"wrong type", `{"isActive":"false"}`},
		{"trailing data", `{"role":"admin"} {}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.do(patchUser(tok, id, tt.body)).wantProblem(t, http.StatusBadRequest, "invalid_json")
		})
	}

	// An empty change changes nothing and records nothing.
	before := len(e.listEvents(t, tok, id, nil).Events)
	r := e.do(patchUser(tok, id, `{}`))
	r.wantStatus(t, http.StatusOK)
	var u adminUser
	r.JSON(t, &u)
	if u.Role != "user" || !u.IsActive {
		t.Errorf("after {}: role %q active %v, want user true", u.Role, u.IsActive)
	}
	if after := len(e.listEvents(t, tok, id, nil).Events); after != before {
		t.Errorf("an empty change recorded %d events", after-before)
	}

	// Promote: the role takes effect on the user's next request.
	r = e.do(patchUser(tok, id, map[string]any{"role": "admin"}))
	r.wantStatus(t, http.StatusOK)
	r.JSON(t, &u)
	if u.Role != "admin" {
		t.Errorf("role = %q, want admin", u.Role)
	}
	e.do(req{method: "GET", path: "/v1/admin/users", token: target.Session.Token}).wantStatus(t, http.StatusOK)
	r = e.do(patchUser(tok, id, map[string]any{"role": "user"}))
	r.wantStatus(t, http.StatusOK)
	e.do(req{method: "GET", path: "/v1/admin/users", token: target.Session.Token}).
		wantProblem(t, http.StatusForbidden, "forbidden")
}

func TestAdminLastAdminRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := e.mustSignUpAdmin("First", "first@example.com")
	second := e.mustSignUp("Second", "second@example.com", goodPassword)
	tok, me := first.Session.Token, first.User.ID

	// Alone, the admin can neither demote, deactivate nor delete themselves.
	for _, r := range []req{
		patchUser(tok, me, map[string]any{"role": "user"}),
		patchUser(tok, me, map[string]any{"isActive": false}),
		patchUser(tok, me, map[string]any{"role": "user", "isActive": false}),
		{method: "DELETE", path: "/v1/admin/users/" + me, token: tok},
	} {
		e.do(r).wantProblem(t, http.StatusConflict, "conflict")
	}
	// Harmless changes to the sole admin still work.
	e.do(patchUser(tok, me, map[string]any{"role": "admin", "isActive": true})).wantStatus(t, http.StatusOK)
	e.do(req{method: "GET", path: "/v1/me", token: tok}).wantStatus(t, http.StatusOK)

	// An inactive admin does not count.
	e.do(patchUser(tok, second.User.ID, map[string]any{"role": "admin", "isActive": false})).wantStatus(t, http.StatusOK)
	e.do(patchUser(tok, me, map[string]any{"role": "user"})).wantProblem(t, http.StatusConflict, "conflict")

	// With two active admins, one may step down.
	e.do(patchUser(tok, second.User.ID, map[string]any{"isActive": true})).wantStatus(t, http.StatusOK)
	r := e.do(patchUser(tok, me, map[string]any{"role": "user"}))
	r.wantStatus(t, http.StatusOK)
	var u adminUser
	r.JSON(t, &u)
	if u.Role != "user" {
		t.Errorf("role = %q, want user", u.Role)
	}
	e.do(req{method: "GET", path: "/v1/admin/users", token: tok}).wantProblem(t, http.StatusForbidden, "forbidden")

	// Two admins again; deactivating the other leaves this one the last.
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", me)
	e.do(patchUser(tok, second.User.ID, map[string]any{"isActive": false})).wantStatus(t, http.StatusOK)
	e.do(req{method: "DELETE", path: "/v1/admin/users/" + me, token: tok}).wantProblem(t, http.StatusConflict, "conflict")
	// Deleting the inactive admin, and then another admin, is fine.
	e.do(req{method: "DELETE", path: "/v1/admin/users/" + second.User.ID, token: tok}).wantStatus(t, http.StatusNoContent)
	third := e.mustSignUpAdmin("Third", "third@example.com")
	e.do(req{method: "DELETE", path: "/v1/admin/users/" + me, token: third.Session.Token}).wantStatus(t, http.StatusNoContent)
	e.do(req{method: "GET", path: "/v1/me", token: tok}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
}

func TestAdminDeactivationRevokesSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	target := e.mustSignUp("Target", "target@example.com", goodPassword)
	other := e.mustSignUp("Other", "other@example.com", goodPassword)
	// A second session of the target.
	e.exec(`INSERT INTO sessions (id, user_id, token_hash, expires_at)
		SELECT 'second-session', user_id, '\x00'::bytea, expires_at FROM sessions WHERE user_id = $1`, target.User.ID)

	r := e.do(patchUser(admin.Session.Token, target.User.ID, map[string]any{"isActive": false}))
	r.wantStatus(t, http.StatusOK)
	var u adminUser
	r.JSON(t, &u)
	if u.IsActive {
		t.Errorf("isActive = true after deactivation")
	}
	e.do(req{method: "GET", path: "/v1/me", token: target.Session.Token}).
		wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE user_id = $1", target.User.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d sessions of the deactivated user remain, want 0", n)
	}
	// Nobody else is signed out.
	e.do(req{method: "GET", path: "/v1/me", token: other.Session.Token}).wantStatus(t, http.StatusOK)
	e.do(req{method: "GET", path: "/v1/me", token: admin.Session.Token}).wantStatus(t, http.StatusOK)

	// A deactivated user cannot sign in, even with the right password;
	// reactivated, they can.
	login := req{method: "POST", path: "/v1/auth/login",
		body: map[string]string{"email": "target@example.com", "password": goodPassword}}
	e.do(login).wantProblem(t, http.StatusForbidden, "account_disabled")
	e.do(patchUser(admin.Session.Token, target.User.ID, map[string]any{"isActive": true})).wantStatus(t, http.StatusOK)
	e.do(login).wantStatus(t, http.StatusOK)
}

// seedForPaging inserts n users with created_at in the past, four to a
// timestamp, and ids that do not follow insertion order, so ties are broken
// by id. It returns their ids in the listing's order: newest first, then
// by id descending.
func seedForPaging(e *env, n int, base time.Time) []string {
	e.t.Helper()
	type seeded struct {
		id string
		at time.Time
	}
	var all []seeded
	for i := range n {
		// A permutation of 0..n-1 when n is not a multiple of 7 (true of 25).
		id := fmt.Sprintf("page%02d", (i*7+3)%n)
		at := base.Add(time.Duration(i/4) * time.Second)
		all = append(all, seeded{id, at})
		e.mustSeedUsers(seedUser{id: id, name: "Paged " + id, email: id + "@example.com", createdAt: at, password: i%2 == 0})
	}
	slices.SortFunc(all, func(a, b seeded) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.id
	}
	return ids
}

func TestAdminListUsersPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	tok := admin.Session.Token
	seeded := seedForPaging(e, 25, time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC))
	// The admin signed up now, after every seeded user.
	want := append([]string{admin.User.ID}, seeded...)

	t.Run("whole list", func(t *testing.T) {
		page := e.listUsers(t, tok, nil)
		if page.NextCursor != nil {
			t.Errorf("nextCursor = %q on a single page, want null", *page.NextCursor)
		}
		var got []string
		for _, u := range page.Users {
			got = append(got, u.ID)
			if u.ID != admin.User.ID && (u.Name == nil || *u.Name != "Paged "+u.ID || u.Accounts == nil) {
				t.Errorf("user %+v: want name Paged %s and an accounts array", u, u.ID)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	for _, limit := range []int{7, 1, 4, 13, 26, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			got := e.allUserPages(t, tok, url.Values{"limit": {fmt.Sprint(limit)}}, nil)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}

	t.Run("inserts while paging", func(t *testing.T) {
		n := 0
		got := e.allUserPages(t, tok, url.Values{"limit": {"7"}}, func() {
			// Newer users, and one sharing the newest timestamp with a
			// larger id, appear while the client pages.
			n++
			e.mustSeedUsers(seedUser{id: fmt.Sprintf("new%02d", n), email: fmt.Sprintf("new%02d@example.com", n),
				createdAt: time.Now().Add(time.Duration(n) * time.Hour)})
		})
		if n != 3 {
			t.Errorf("fetched %d pages, want 4", n+1)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestAdminListUsersHasPasswordAndAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	now := time.Now()
	e.mustSeedUsers(
		seedUser{id: "pw", email: "pw@example.com", createdAt: now.Add(-time.Hour), password: true},
		seedUser{id: "gh", email: "gh@example.com", createdAt: now.Add(-2 * time.Hour), provider: "github"},
	)
	e.exec(`INSERT INTO accounts (user_id, type, provider, provider_account_id) VALUES ('gh', 'oidc', 'google', 'g1')`)
	page := e.listUsers(t, admin.Session.Token, url.Values{"q": {"@example.com"}, "limit": {"3"}})
	if len(page.Users) != 3 || page.NextCursor != nil {
		t.Fatalf("got %d users, next %v; want 3 and no next page", len(page.Users), page.NextCursor)
	}
	byID := map[string]adminUser{}
	for _, u := range page.Users {
		byID[u.ID] = u
	}
	if u := byID["pw"]; !u.HasPassword || len(u.Accounts) != 0 {
		t.Errorf("pw: %+v, want a password and no accounts", u)
	}
	if u := byID["gh"]; u.HasPassword || len(u.Accounts) != 2 || u.Accounts[0].Provider != "github" ||
		u.Accounts[1].Provider != "google" || u.Accounts[1].Type != "oidc" {
		t.Errorf("gh: %+v, want no password and the github and google accounts", u)
	}
	if u := byID[admin.User.ID]; !u.HasPassword || u.Role != "admin" {
		t.Errorf("admin: %+v, want a password and role admin", u)
	}
}

func TestAdminListUsersQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	now := time.Now()
	e.mustSeedUsers(
		seedUser{id: "u1", name: "Zeta Jones", email: "cjz@example.com", createdAt: now.Add(-1 * time.Hour)},
		seedUser{id: "u2", name: "Someone", email: "Mr.ZETA@Example.org", createdAt: now.Add(-2 * time.Hour)},
		seedUser{id: "u3", name: "Beta", email: "beta@example.com", createdAt: now.Add(-3 * time.Hour)},
		seedUser{id: "u4", email: "under_score@example.com", createdAt: now.Add(-4 * time.Hour)},
		seedUser{id: "u5", name: "Zoë Zetterström", email: "zoe@example.com", createdAt: now.Add(-5 * time.Hour)},
	)
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{"zeta", []string{"u1", "u2"}},
		{"ZETA", []string{"u1", "u2"}},
		{"  zEtA ", []string{"u1", "u2"}},
		{"example.org", []string{"u2"}},
		{"_", []string{"u4"}},
		{"%", nil},
		{`\`, nil},
		{`e\`, nil},
		// Non-ASCII letters match as they are; whether their case folds
		// too depends on the database's LC_CTYPE (the test cluster's is C).
		{"zetterström", []string{"u5"}},
		{"ZETTERSTR", []string{"u5"}},
		{"nobody", nil},
		{"", []string{admin.User.ID, "u1", "u2", "u3", "u4", "u5"}},
	} {
		t.Run(tt.q, func(t *testing.T) {
			got := e.allUserPages(t, admin.Session.Token, url.Values{"q": {tt.q}, "limit": {"1"}}, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("q %q: got %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestAdminListRefusesBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	tok := admin.Session.Token
	e.mustSeedUsers(seedUser{id: "x", email: "x@example.com", createdAt: time.Now().Add(-time.Hour)})
	page := e.listUsers(t, tok, url.Values{"limit": {"1"}})
	if page.NextCursor == nil {
		t.Fatal("no next cursor with two users and limit 1")
	}
	userCursor := *page.NextCursor
	// Cursors are opaque to clients; these are of the right encoding but
	// the wrong kind or out of range.
	eventCursor := base64.RawURLEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	farFuture := base64.RawURLEncoding.EncodeToString([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'})
	zeroEvent := base64.RawURLEncoding.EncodeToString(make([]byte, 8))
	nulID := base64.RawURLEncoding.EncodeToString([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0})

	for _, tt := range []struct {
		name   string
		path   string
		fields []string
	}{
		{"limit 0", "/v1/admin/users?limit=0", []string{"limit"}},
		{"limit 101", "/v1/admin/users?limit=101", []string{"limit"}},
		{"negative limit", "/v1/admin/users?limit=-1", []string{"limit"}},
		{"word limit", "/v1/admin/users?limit=ten", []string{"limit"}},
		{"fractional limit", "/v1/admin/users?limit=1.5", []string{"limit"}},
		{"huge limit", "/v1/admin/users?limit=99999999999999999999", []string{"limit"}},
		{"garbage cursor", "/v1/admin/users?cursor=%21%21%21", []string{"cursor"}},
		{"short cursor", "/v1/admin/users?cursor=AAAA", []string{"cursor"}},
		{"long cursor", "/v1/admin/users?cursor=" + strings.Repeat("A", 2000), []string{"cursor"}},
		{"cursor out of range", "/v1/admin/users?cursor=" + farFuture, []string{"cursor"}},
		{"cursor with NUL", "/v1/admin/users?cursor=" + nulID, []string{"cursor"}},
		{"event cursor for users", "/v1/admin/users?cursor=" + eventCursor, []string{"cursor"}},
		{"both", "/v1/admin/users?limit=0&cursor=%24", []string{"limit", "cursor"}},
		{"long q", "/v1/admin/users?q=" + strings.Repeat("a", 255), []string{"q"}},
		{"events limit 0", "/v1/admin/users/x/events?limit=0", []string{"limit"}},
		{"events limit 101", "/v1/admin/users/x/events?limit=101", []string{"limit"}},
		{"events garbage cursor", "/v1/admin/users/x/events?cursor=%21", []string{"cursor"}},
		{"user cursor for events", "/v1/admin/users/x/events?cursor=" + userCursor, []string{"cursor"}},
		{"events zero cursor", "/v1/admin/users/x/events?cursor=" + zeroEvent, []string{"cursor"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := e.do(req{method: "GET", path: tt.path, token: tok}).
				wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
		})
	}
	// The edges of the range, and an empty limit, are fine.
	for _, q := range []string{"limit=1", "limit=100", "limit=", "q=" + strings.Repeat("a", 254)} {
		e.do(req{method: "GET", path: "/v1/admin/users?" + q, token: tok}).wantStatus(t, http.StatusOK)
	}
}

func TestAdminEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	target := e.mustSignUp("Target", "target@example.com", goodPassword)
	tok, id := admin.Session.Token, target.User.ID

	e.do(req{method: "POST", path: "/v1/auth/logout", token: target.Session.Token}).wantStatus(t, http.StatusNoContent)
	ua := map[string]string{"User-Agent": "admin-console/1.0"}
	for _, body := range []map[string]any{{"role": "admin"}, {"isActive": false}, {"isActive": true, "role": "user"}} {
		r := patchUser(tok, id, body)
		r.header = ua
		e.do(r).wantStatus(t, http.StatusOK)
	}
	del := req{method: "DELETE", path: "/v1/admin/users/" + id, token: tok, header: ua}
	e.do(del).wantStatus(t, http.StatusNoContent)

	// The trail outlives the user: newest first, admin actions carry the
	// admin as actor and the admin's request's user agent.
	type ev struct {
		typ, detail string
		byAdmin     bool
	}
	want := []ev{
		{"user_deleted", "deleted; role user", true},
		{"user_reactivated", "reactivated", true},
		{"role_changed", "role user", true},
		{"user_deactivated", "deactivated", true},
		{"role_changed", "role admin", true},
		{"logout", "", false},
		{"verify_email", "", false},
	}
	var got []eventBody
	params := url.Values{"limit": {"3"}}
	for range 10 {
		page := e.listEvents(t, tok, id, params)
		got = append(got, page.Events...)
		if page.NextCursor == nil {
			break
		}
		params.Set("cursor", *page.NextCursor)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	seen := map[string]bool{}
	for i, g := range got {
		w := want[i]
		if g.Type != w.typ || g.Detail != w.detail {
			t.Errorf("event %d: got %s %q, want %s %q", i, g.Type, g.Detail, w.typ, w.detail)
		}
		if w.byAdmin {
			if g.ActorID == nil || *g.ActorID != admin.User.ID || g.UserAgent != "admin-console/1.0" {
				t.Errorf("event %d (%s): actor %v user agent %q, want the admin's", i, g.Type, g.ActorID, g.UserAgent)
			}
		} else if g.ActorID != nil {
			t.Errorf("event %d (%s): actor %q, want null (the user acted)", i, g.Type, *g.ActorID)
		}
		if g.IP == "" || g.ID == "" || seen[g.ID] {
			t.Errorf("event %d: ip %q id %q: want an address and a fresh id", i, g.IP, g.ID)
		}
		seen[g.ID] = true
		if _, err := time.Parse(time.RFC3339, g.CreatedAt); err != nil || !strings.HasSuffix(g.CreatedAt, "Z") {
			t.Errorf("event %d: createdAt %q, want RFC 3339 UTC", i, g.CreatedAt)
		}
	}

	// An id that never had events answers an empty page.
	if page := e.listEvents(t, tok, "nobody", nil); len(page.Events) != 0 || page.NextCursor != nil {
		t.Errorf("unknown user: got %+v, want no events", page)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Admin", "admin@example.com")
	e.do(req{method: "GET", path: "/healthz"}).wantStatus(t, http.StatusOK)
	e.do(req{method: "GET", path: "/v1/admin/users/nobody", token: admin.Session.Token}).wantStatus(t, http.StatusNotFound)

	r := e.do(req{method: "GET", path: "/metrics"})
	r.wantStatus(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	body := string(r.Body)
	for _, want := range []string{
		`nextsecure_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`nextsecure_http_requests_total{method="GET",route="/v1/admin/users/:id",status="404"} 1`,
		`nextsecure_http_requests_total{method="POST",route="/v1/auth/register",status="202"} 1`,
		`nextsecure_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 1`,
		"nextsecure_db_pool_total_conns ",
		"nextsecure_db_pool_acquired_conns ",
		"nextsecure_db_pool_max_conns ",
		"nextsecure_db_pool_acquires_total ",
		"nextsecure_mail_queued_total 1",
		`nextsecure_mail_send_attempts_total{outcome="sent"} 1`,
		`nextsecure_mail_send_attempts_total{outcome="failed"} 0`,
		"nextsecure_password_hash_wait_seconds_count ",
		"nextsecure_password_hash_waiting 0",
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, admin.Session.Token) || strings.Contains(body, "admin@example.com") {
		t.Error("metrics carry a token or an email")
	}
}
