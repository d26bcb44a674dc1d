package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Tests of /admin in a browser and plain HTTP, and of what every page
// shares: cross-origin refusal, no script needed, headers, the stylesheet,
// PAGES=off.

// adminPageSignIn signs tb in through /login's password form and requires
// it to land on /account.
func adminPageSignIn(tb *tab, email, password string) {
	tb.t.Helper()
	tb.open("/login")
	tb.fill("#f-email", email)
	tb.fill("#f-password", password)
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/account")
}

// userRow is the selector of /admin's table row of the user with email.
func userRow(email string) string {
	return fmt.Sprintf("tr[data-email=%q]", email)
}

// TestBrowserAdminDeactivatesUser: an admin deactivates a user on /admin;
// the user's next sign-in with the right password is refused as disabled,
// in the browser and over JSON; the admin's attempt to demote themself, the
// last admin, is refused with the service's message; activating restores
// the sign-in.
func TestBrowserAdminDeactivatesUser(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	adminID := e.seedPasswordUser("root@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", adminID)
	e.seedPasswordUser("bob@example.com", goodPassword)

	tb := e.newTab()
	adminPageSignIn(tb, "root@example.com", goodPassword)
	if n := tb.count("nav a[href='/admin']"); n != 1 {
		t.Fatalf("an admin's nav has %d links to /admin, want 1", n)
	}
	tb.submit("nav a[href='/admin']")
	tb.wantPath("/admin")
	tb.wantText(userRow("bob@example.com")+" .status", "Active")

	if s := tb.submit(userRow("bob@example.com") + " button[name=deactivate]"); s != http.StatusOK {
		t.Fatalf("deactivate: the page after the redirect answered %d", s)
	}
	tb.wantPath("/admin")
	tb.wantText(".flash", "The user is updated.")
	tb.wantText(userRow("bob@example.com")+" .status", "Deactivated")

	bob := e.newTab()
	bob.open("/login")
	bob.fill("#f-email", "bob@example.com")
	bob.fill("#f-password", goodPassword)
	if s := bob.submit("form[action='/login'] button[type=submit]"); s != http.StatusForbidden {
		t.Fatalf("a deactivated user's sign-in: status %d, want 403", s)
	}
	bob.wantText("[role=alert]", "disabled")
	if bob.cookie("session") != "" {
		t.Fatal("a deactivated user got a session cookie")
	}
	e.login("bob@example.com", goodPassword).wantStatus(t, http.StatusForbidden)

	// The last admin cannot demote themself: 409 and the reason.
	tb.do("choose user", chromedp.SetValue(userRow("root@example.com")+" select[name=role]", "user"))
	if s := tb.submit(userRow("root@example.com") + " button[name=set-role]"); s != http.StatusConflict {
		t.Fatalf("demoting the last admin: status %d, want 409", s)
	}
	tb.wantText("[role=alert]", "The last active admin cannot be removed, demoted or deactivated.")

	tb.open("/admin")
	tb.submit(userRow("bob@example.com") + " button[name=activate]")
	tb.wantText(".flash", "The user is updated.")
	tb.wantText(userRow("bob@example.com")+" .status", "Active")
	e.login("bob@example.com", goodPassword).wantStatus(t, http.StatusOK)
	if n := e.countEvents(userIDOf(e, "bob@example.com"), "user_deactivated"); n != 1 {
		t.Fatalf("%d user_deactivated events, want 1", n)
	}
}

// TestBrowserAdminSearchAndPages: the search keeps the users whose email
// or name holds the words; the next-page link carries the cursor; a change
// made on the second page comes back to that page, search kept; making a
// user admin shows in their row.
func TestBrowserAdminSearchAndPages(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	adminID := e.seedPasswordUser("root@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", adminID)
	base := time.Now().Add(-time.Hour)
	var want []string
	for i := range 5 {
		email := fmt.Sprintf("member%d@corp.example", i)
		want = append([]string{email}, want...) // newest first
		e.mustSeedUsers(seedUser{id: fmt.Sprintf("member-%d", i), email: email, createdAt: base.Add(time.Duration(i) * time.Minute)})
	}
	e.mustSeedUsers(seedUser{id: "other", name: "Grace Hopper", email: "grace@navy.example", createdAt: base})

	tb := e.newTab()
	adminPageSignIn(tb, "root@example.com", goodPassword)
	tb.open("/admin")
	tb.fill("#f-q", "HOPPER")
	tb.submit("form[role=search] button")
	if got := tb.path(); got != "/admin?q=HOPPER" {
		t.Fatalf("search went to %s", got)
	}
	if n := tb.count("tbody tr"); n != 1 {
		t.Fatalf("a search by name shows %d rows, want 1", n)
	}
	tb.wantText(userRow("grace@navy.example"), "Grace Hopper")

	tb.open("/admin?limit=2&q=corp.example")
	var seen []string
	for page := 1; ; page++ {
		rows := get(tb, "rows", chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("tbody tr .user-email"), e => e.textContent)`))
		seen = append(seen, rows...)
		if tb.count("a[rel=next]") == 0 {
			break
		}
		if page == 2 {
			// A change on page 2 comes back to page 2, search kept.
			at := tb.path()
			if !strings.Contains(at, "cursor=") || !strings.Contains(at, "q=corp.example") {
				t.Fatalf("page 2 is at %s: no cursor or search in it", at)
			}
			email := rows[0]
			tb.do("choose admin", chromedp.SetValue(userRow(email)+" select[name=role]", "admin"))
			tb.submit(userRow(email) + " button[name=set-role]")
			tb.wantPath(at)
			tb.wantText(".flash", "The user is updated.")
			if tb.count(userRow(email)+" option[value=admin][selected]") != 1 {
				t.Fatalf("%s's role is not shown as admin after the change", email)
			}
		}
		tb.submit("a[rel=next]")
		if got := tb.attr("a[rel=first]", "href"); got != "/admin?limit=2&q=corp.example" {
			t.Fatalf("first-page link %q", got)
		}
	}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Fatalf("paging showed %v, want %v", seen, want)
	}

	tb.open("/admin?q=nobody-matches-this")
	tb.wantText("#no-users", "No user matches.")
	if s := tb.open("/admin?cursor=not-a-cursor"); s != http.StatusUnprocessableEntity {
		t.Fatalf("a made-up cursor: status %d, want 422", s)
	}
	tb.wantText("[role=alert]", "first page")
	if s := tb.open("/admin?q=" + strings.Repeat("x", 300)); s != http.StatusUnprocessableEntity {
		t.Fatalf("a 300-character search: status %d, want 422", s)
	}
	tb.wantText("#f-q-error", "at most 254")
}

// TestBrowserAdminResetsMFA: an admin turns off a user's two-factor
// authentication from /admin; the user then signs in with the password
// alone, and the button is gone from their row.
func TestBrowserAdminResetsMFA(t *testing.T) {
	t.Parallel()
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnv(t, func(cfg *service.Config) { cfg.Secrets = keys })
	adminID := e.seedPasswordUser("root@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", adminID)
	u := e.seedMFAUser("lost@example.com")
	wantChallenge(t, e.login("lost@example.com", goodPassword))

	tb := e.newTab()
	adminPageSignIn(tb, "root@example.com", goodPassword)
	tb.open("/admin?q=lost")
	tb.wantText(userRow("lost@example.com"), "On")
	tb.submit(userRow("lost@example.com") + " button[name=reset-mfa]")
	tb.wantPath("/admin?q=lost")
	tb.wantText(".flash", "Two-factor authentication is off for that user.")
	if n := tb.count(userRow("lost@example.com") + " button[name=reset-mfa]"); n != 0 {
		t.Fatal("the reset button is still shown after the reset")
	}
	wantSession(t, e.login("lost@example.com", goodPassword))
	if n := e.countEvents(u.id, "mfa_reset"); n != 1 {
		t.Fatalf("%d mfa_reset events, want 1", n)
	}
}

// TestBrowserAdminRefusesNonAdmins: a signed-in user who is not an admin
// sees a 403 page and no link to /admin (TestPagesAdminAccess posts).
func TestBrowserAdminRefusesNonAdmins(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("ann@example.com", goodPassword)

	tb := e.newTab()
	adminPageSignIn(tb, "ann@example.com", goodPassword)
	if n := tb.count("nav a[href='/admin']"); n != 0 {
		t.Fatal("a user who is not an admin sees a link to /admin")
	}
	if s := tb.open("/admin"); s != http.StatusForbidden {
		t.Fatalf("/admin for a user: status %d, want 403", s)
	}
	tb.wantText("[role=alert]", "Only administrators")

}

// TestBrowserCrossOriginFormRefused: a page on another origin whose form
// posts the right password to /login is refused with 403, and the browser
// gets no session.
func TestBrowserCrossOriginFormRefused(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("ada@example.com", goodPassword)
	target := e.srv.URL + "/login"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>elsewhere</title>
<form method="post" action="%s">
<input name="email" value="ada@example.com"><input name="password" type="password" value="%s">
<button type="submit" id="go">Win a prize</button></form>`, target, goodPassword)
	}))
	t.Cleanup(evil.Close)
	// Another host name for the loopback address: another site, not only
	// another port.
	other := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	tb := e.newTab()
	tb.open(other)
	if s := tb.submit("#go"); s != http.StatusForbidden {
		t.Fatalf("a cross-origin form post: status %d, want 403", s)
	}
	tb.wantText("[role=alert]", "another site")
	if tb.cookie("session") != "" {
		t.Fatal("a cross-origin form post opened a session")
	}
	if n := e.countEvents(userIDOf(e, "ada@example.com"), "login_success"); n != 0 {
		t.Fatalf("%d login events after a refused post, want 0", n)
	}
}

// TestBrowserPagesWithoutJavaScript: with scripts disabled a person signs
// up, confirms the emailed link, signs out and signs in again.
func TestBrowserPagesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	tb := e.newTab(withoutJavaScript)
	tb.open("/register")
	tb.fill("#f-name", "Lin")
	tb.fill("#f-email", "lin@example.com")
	tb.fill("#f-password", goodPassword)
	tb.submit("form[action='/register'] button")
	tb.wantPath("/verify-email")
	tb.wantText(".flash", "Check your inbox")

	link := e.mailedLink("lin@example.com", "/verify-email?token=")
	tb.open(strings.TrimPrefix(link, e.srv.URL))
	tb.submit("form[action='/verify-email'] button")
	tb.wantPath("/account")
	tb.wantText("#profile-email", "lin@example.com")

	tb.submit("form[action='/logout'] button")
	tb.wantPath("/login")
	tb.wantText(".flash", "signed out")
	adminPageSignIn(tb, "lin@example.com", goodPassword)
	tb.wantText("#profile-email", "lin@example.com")
}

// userIDOf is the id of the user with email.
func userIDOf(e *env, email string) string {
	e.t.Helper()
	var id string
	if err := e.pool.QueryRow(context.Background(), "SELECT id FROM users WHERE email = $1", email).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// plainGet fetches path from e without following redirects, with the
// session cookie token when it is not "".
func plainGet(t *testing.T, e *env, path, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// TestPagesHeaders: every page's GET answers 200 HTML that is never stored
// and carries the strict CSP; the stylesheet is served under its hashed
// name for a year.
func TestPagesHeaders(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	adminID := e.seedPasswordUser("root@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", adminID)
	token := e.seedSession(adminID)

	pages := []struct {
		path     string
		signedIn bool
	}{
		{path: "/login"},
		{path: "/register"},
		{path: "/verify-email"},
		{path: "/verify-email?token=x"},
		{path: "/forgot-password"},
		{path: "/reset-password?token=x"},
		{path: "/magic-link?token=x"},
		{path: "/confirm-email?token=x"},
		{path: "/account", signedIn: true},
		{path: "/admin", signedIn: true},
		{path: "/admin?q=root", signedIn: true},
	}
	for _, p := range pages {
		t.Run(p.path, func(t *testing.T) {
			tok := ""
			if p.signedIn {
				tok = token
			}
			res := plainGet(t, e, p.path, tok)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			h := res.Header
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := h.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			csp := h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("Content-Security-Policy %q lacks %s", csp, d)
				}
			}
			if strings.Contains(p.path, "token=") {
				if rp := h.Get("Referrer-Policy"); rp != "no-referrer" {
					t.Errorf("Referrer-Policy %q on a page with a token", rp)
				}
			}
		})
	}

	res := plainGet(t, e, "/login", "")
	body, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`href="(/static/style\.[0-9a-f]{12}\.css)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no hashed stylesheet link on /login:\n%s", body)
	}
	css := plainGet(t, e, string(m[1]), "")
	if css.StatusCode != http.StatusOK {
		t.Fatalf("stylesheet: status %d", css.StatusCode)
	}
	if cc := css.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("stylesheet Cache-Control %q", cc)
	}
	if ct := css.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
	if s := plainGet(t, e, "/static/style.000000000000.css", "").StatusCode; s != http.StatusNotFound {
		t.Errorf("a stylesheet under another hash: status %d, want 404", s)
	}
}

// TestPagesAdminAccess: /admin sends a browser that is not signed in to
// /login, answers a user with 403, and refuses a cross-origin post even
// from an admin's browser.
func TestPagesAdminAccess(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	adminID := e.seedPasswordUser("root@example.com", goodPassword)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", adminID)
	adminToken := e.seedSession(adminID)
	userID := e.seedPasswordUser("ann@example.com", goodPassword)
	userToken := e.seedSession(userID)

	res := plainGet(t, e, "/admin", "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("/admin signed out: %d to %q, want 303 to /login", res.StatusCode, res.Header.Get("Location"))
	}
	if s := plainGet(t, e, "/admin", userToken).StatusCode; s != http.StatusForbidden {
		t.Fatalf("/admin for a user: %d, want 403", s)
	}

	post := func(token string, header map[string]string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", e.srv.URL+"/admin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
		for k, v := range header {
			req.Header.Set(k, v)
		}
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	deactivate := url.Values{"action": {"deactivate"}, "id": {userID}, "q": {"ann"}, "cursor": {""}}
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "http://evil.example"},
	} {
		if s := post(adminToken, h, deactivate).StatusCode; s != http.StatusForbidden {
			t.Fatalf("a cross-origin post (%v): %d, want 403", h, s)
		}
	}
	if s := post(userToken, nil, deactivate).StatusCode; s != http.StatusForbidden {
		t.Fatalf("a user's post to /admin: %d, want 403", s)
	}
	e.login("ann@example.com", goodPassword).wantStatus(t, http.StatusOK)

	res = post(adminToken, map[string]string{"Sec-Fetch-Site": "same-origin"}, deactivate)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin?q=ann" {
		t.Fatalf("a same-origin post: %d to %q, want 303 to /admin?q=ann", res.StatusCode, res.Header.Get("Location"))
	}
	e.login("ann@example.com", goodPassword).wantStatus(t, http.StatusForbidden)
	if s := post(adminToken, nil, url.Values{"action": {"explode"}, "id": {userID}}).StatusCode; s != http.StatusBadRequest {
		t.Fatalf("an unknown action: %d, want 400", s)
	}
	if s := post(adminToken, nil, url.Values{"action": {"activate"}, "id": {"nobody"}}).StatusCode; s != http.StatusNotFound {
		t.Fatalf("an unknown user: %d, want 404", s)
	}
	if s := post(adminToken, nil, url.Values{"action": {"role"}, "id": {userID}, "role": {"owner"}}).StatusCode; s != http.StatusUnprocessableEntity {
		t.Fatalf("an unknown role: %d, want 422", s)
	}
}

// TestPagesOff: with Config.Pages false (PAGES=off) no page is served.
func TestPagesOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/", "/login", "/register", "/verify-email", "/account", "/admin"} {
		if s := plainGet(t, e, path, "").StatusCode; s != http.StatusNotFound {
			t.Errorf("%s with pages off: %d, want 404", path, s)
		}
	}
}
