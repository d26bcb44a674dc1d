package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Browser tests of /account (issue 13): each form through a real Chromium
// against the real server.

// withSecrets gives the stack AUTH_SECRET (two-factor secrets and provider
// flows are sealed under it).
func withSecrets(t *testing.T) func(*service.Config) {
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	return func(cfg *service.Config) { cfg.Secrets = keys }
}

// signedInTab opens a tab and signs in on /login with email and password;
// the tab is then at /account.
func (e *env) signedInTab(email, password string, opts ...tabOption) *tab {
	e.t.Helper()
	tb := e.newTab(opts...)
	tb.open("/login")
	tb.fill("#f-email", email)
	tb.fill("#f-password", password)
	if s := tb.submit("form[action='/login'] button[type=submit]"); s != http.StatusOK {
		e.t.Fatalf("sign in as %s: status %d", email, s)
	}
	tb.wantPath("/account")
	return tb
}

// userExists reports whether a user with id is in the database.
func (e *env) userExists(id string) bool {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM users WHERE id = $1`, id) == 1
}

// TestBrowserAccountSessions: /account lists the sessions with this one
// marked; revoking another sends that browser to /login on its next page,
// and "sign out everywhere else" does it for all of them.
func TestBrowserAccountSessions(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("ada@example.com", goodPassword)
	a := e.signedInTab("ada@example.com", goodPassword)
	b := e.signedInTab("ada@example.com", goodPassword)

	a.open("/account")
	if n := a.count("li.session"); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	if n := a.count("li.session.current"); n != 1 {
		t.Fatalf("%d sessions marked current, want 1", n)
	}
	a.wantText("li.session.current", "This browser")
	if n := a.count("li.session.current button"); n != 0 {
		t.Fatal("the current session has a revoke button")
	}
	if s := a.submit("li.session:not(.current) button"); s != http.StatusOK {
		t.Fatalf("revoke: status %d", s)
	}
	a.wantPath("/account#sessions")
	a.wantText(".flash", "That session is signed out.")
	if n := a.count("li.session"); n != 1 {
		t.Fatalf("%d sessions listed after revoking, want 1", n)
	}
	b.open("/account")
	b.wantPath("/login")

	c := e.signedInTab("ada@example.com", goodPassword)
	d := e.signedInTab("ada@example.com", goodPassword)
	a.open("/account")
	if n := a.count("li.session"); n != 3 {
		t.Fatalf("%d sessions listed, want 3", n)
	}
	a.submit("#revoke-others")
	a.wantText(".flash", "Your other sessions are signed out.")
	if n := a.count("li.session"); n != 1 {
		t.Fatalf("%d sessions listed after signing out everywhere else, want 1", n)
	}
	for _, other := range []*tab{c, d} {
		other.open("/account")
		other.wantPath("/login")
	}
	a.open("/account")
	a.wantPath("/account")
}

// TestBrowserAccountProfileAndEmail: the profile form keeps what was typed
// and shows messages next to its fields; an email change needs the current
// password (403 next to it when wrong), mails a confirmation link to the new
// address and a notice to the current one. The /confirm-email page is
// another page's work: the link's token is confirmed here through POST
// /v1/auth/email/confirm, and /account then shows the new address.
func TestBrowserAccountProfileAndEmail(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("ada@example.com", goodPassword)
	tb := e.signedInTab("ada@example.com", goodPassword)

	if got := tb.attr("#edit-name", "value"); got != "Seeded" {
		t.Fatalf("name field holds %q, want Seeded", got)
	}
	tb.fill("#edit-name", "Ada Lovelace")
	tb.fill("#edit-image", "not a url")
	if s := tb.submit("form:has(input[value=profile]) button"); s != http.StatusUnprocessableEntity {
		t.Fatalf("a bad picture URL: status %d, want 422", s)
	}
	if got := tb.attr("#edit-image", "aria-invalid"); got != "true" {
		t.Fatalf("image aria-invalid = %q", got)
	}
	tb.wantText("#edit-image-error", "http or https URL")
	if got := tb.attr("#edit-name", "value"); got != "Ada Lovelace" {
		t.Fatalf("the typed name was not kept: %q", got)
	}
	tb.fill("#edit-image", "https://example.com/ada.png")
	tb.submit("form:has(input[value=profile]) button")
	tb.wantPath("/account#profile")
	tb.wantText(".flash", "Your profile is saved.")
	tb.wantText("#profile-name", "Ada Lovelace")
	if got := tb.attr("#edit-image", "value"); got != "https://example.com/ada.png" {
		t.Fatalf("image field holds %q", got)
	}

	tb.fill("#email-email", "ada@example.com")
	tb.fill("#email-password", goodPassword)
	if s := tb.submit("form:has(input[value=email]) button"); s != http.StatusUnprocessableEntity {
		t.Fatalf("the current address: status %d, want 422", s)
	}
	tb.wantText("#email-email-error", "already your email address")
	tb.fill("#email-email", "Lovelace@Example.com")
	tb.fill("#email-password", "wrong horse battery staple")
	if s := tb.submit("form:has(input[value=email]) button"); s != http.StatusForbidden {
		t.Fatalf("a wrong password: status %d, want 403", s)
	}
	tb.wantText("#email-password-error", "The password is incorrect.")
	if got := tb.attr("#email-email", "value"); got != "Lovelace@Example.com" {
		t.Fatalf("the typed address was not kept: %q", got)
	}
	tb.fill("#email-password", goodPassword)
	tb.submit("form:has(input[value=email]) button")
	tb.wantPath("/account#email")
	tb.wantText(".flash", "Check the inbox of the new address")

	link := e.mailedLink("lovelace@example.com", "/confirm-email?token=")
	if e.countMailTo("ada@example.com") == 0 {
		t.Fatal("the current address got no notice")
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(req{method: "POST", path: "/v1/auth/email/confirm", body: map[string]string{"token": u.Query().Get("token")}})
	r.wantStatus(t, http.StatusOK)
	tb.open("/account")
	tb.wantText("#profile-email", "lovelace@example.com")
}

// TestBrowserAccountPassword: a wrong current password is 403 next to its
// field, a weak new one 422 next to its; a change keeps this session, signs
// the others out, and the new password signs in.
func TestBrowserAccountPassword(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("ada@example.com", goodPassword)
	tb := e.signedInTab("ada@example.com", goodPassword)
	other := e.signedInTab("ada@example.com", goodPassword)

	if got := tb.attr("#password-currentPassword", "autocomplete"); got != "current-password" {
		t.Fatalf("current password autocomplete = %q", got)
	}
	if got := tb.attr("#password-newPassword", "autocomplete"); got != "new-password" {
		t.Fatalf("new password autocomplete = %q", got)
	}
	const newPassword = "a different horse battery staple"
	tb.fill("#password-currentPassword", "wrong horse battery staple")
	tb.fill("#password-newPassword", newPassword)
	if s := tb.submit("form:has(input[value=password]) button"); s != http.StatusForbidden {
		t.Fatalf("a wrong current password: status %d, want 403", s)
	}
	tb.wantText("#password-currentPassword-error", "The password is incorrect.")
	if got := tb.attr("#password-currentPassword", "value"); got != "" {
		t.Fatal("a password was echoed back")
	}
	tb.fill("#password-currentPassword", goodPassword)
	tb.fill("#password-newPassword", "short")
	if s := tb.submit("form:has(input[value=password]) button"); s != http.StatusUnprocessableEntity {
		t.Fatalf("a short new password: status %d, want 422", s)
	}
	tb.wantText("#password-newPassword-error", "at least 8")
	tb.fill("#password-currentPassword", goodPassword)
	tb.fill("#password-newPassword", newPassword)
	tb.submit("form:has(input[value=password]) button")
	tb.wantPath("/account#password")
	tb.wantText(".flash", "Your password is changed")

	other.open("/account")
	other.wantPath("/login")
	other.fill("#f-email", "ada@example.com")
	other.fill("#f-password", newPassword)
	other.submit("form[action='/login'] button[type=submit]")
	other.wantPath("/account")
}

// TestBrowserAccountTwoFactor: set-up needs the password; the page shows
// the QR code as a data: image and the key in text; a wrong code is refused
// (401) and the right one turns two-factor on and shows ten recovery codes
// in that answer only; new codes need the password and a code; turning it
// off with a recovery code works.
func TestBrowserAccountTwoFactor(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withSecrets(t))
	id := e.seedPasswordUser("ada@example.com", goodPassword)
	tb := e.signedInTab("ada@example.com", goodPassword)

	tb.wantText("#mfa-status", "Off")
	tb.fill("#mfa-password", "wrong horse battery staple")
	if s := tb.submit("form:has(input[value=mfa-begin]) button"); s != http.StatusForbidden {
		t.Fatalf("set-up with a wrong password: status %d, want 403", s)
	}
	tb.wantText("#mfa-password-error", "The password is incorrect.")
	tb.fill("#mfa-password", goodPassword)
	if s := tb.submit("form:has(input[value=mfa-begin]) button"); s != http.StatusOK {
		t.Fatalf("set-up: status %d", s)
	}
	if src := tb.attr("#totp-qr", "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("QR code src = %.40q, want a PNG data URL", src)
	}
	// The QR code is drawn (the CSP allows data: images).
	if w := get(tb, "QR width", chromedp.Evaluate[int](`document.querySelector("#totp-qr").naturalWidth`)); w == 0 {
		t.Fatal("the QR code image did not load")
	}
	secret := strings.TrimSpace(tb.text("#totp-secret"))
	if len(secret) < 16 {
		t.Fatalf("secret shown as %q", secret)
	}
	if strings.Contains(tb.path(), secret) {
		t.Fatal("the secret is in the address")
	}
	tb.wantNoCookieHolding(secret)
	if got := tb.attr("#confirm-code", "inputmode"); got != "numeric" {
		t.Fatalf("code inputmode = %q", got)
	}
	if got := tb.attr("#confirm-code", "autocomplete"); got != "one-time-code" {
		t.Fatalf("code autocomplete = %q", got)
	}
	tb.fill("#confirm-code", e.wrongCode(secret))
	if s := tb.submit("form:has(input[value=mfa-confirm]) button"); s != http.StatusUnauthorized {
		t.Fatalf("a wrong code: status %d, want 401", s)
	}
	if got := tb.attr("#confirm-code", "aria-invalid"); got != "true" {
		t.Fatalf("code aria-invalid = %q", got)
	}
	tb.fill("#confirm-code", e.code(secret, 0))
	if s := tb.submit("form:has(input[value=mfa-confirm]) button"); s != http.StatusOK {
		t.Fatalf("confirm: status %d", s)
	}
	if n := tb.count("#recovery-codes li"); n != 10 {
		t.Fatalf("%d recovery codes shown, want 10", n)
	}
	first := strings.TrimSpace(tb.text("#recovery-codes li"))
	if strings.Contains(tb.path(), first) {
		t.Fatal("a recovery code is in the address")
	}
	tb.wantNoCookieHolding(first)
	// Shown once: /account does not show them again.
	tb.open("/account")
	tb.wantText("#mfa-status", "On")
	if n := tb.count("#recovery-codes"); n != 0 {
		t.Fatal("/account shows the recovery codes again")
	}
	if strings.Contains(e.logs.String(), first) {
		t.Fatal("a recovery code was logged")
	}

	// New codes: a wrong password is 403; then the old ones die.
	e.nextStep()
	tb.fill("#regen-password", "wrong horse battery staple")
	tb.fill("#regen-code", e.code(secret, 0))
	if s := tb.submit("form:has(input[value=mfa-regenerate]) button"); s != http.StatusForbidden {
		t.Fatalf("new codes with a wrong password: status %d, want 403", s)
	}
	tb.fill("#regen-password", goodPassword)
	tb.fill("#regen-code", e.code(secret, 0))
	if s := tb.submit("form:has(input[value=mfa-regenerate]) button"); s != http.StatusOK {
		t.Fatalf("new codes: status %d", s)
	}
	if n := tb.count("#recovery-codes li"); n != 10 {
		t.Fatalf("%d new recovery codes shown, want 10", n)
	}
	fresh := strings.TrimSpace(tb.text("#recovery-codes li"))
	if fresh == first {
		t.Fatal("the recovery codes did not change")
	}

	// Off, with an old recovery code (refused) and then a new one.
	tb.open("/account")
	tb.fill("#disable-password", goodPassword)
	tb.fill("#disable-code", first)
	if s := tb.submit("form:has(input[value=mfa-disable]) button"); s != http.StatusUnauthorized {
		t.Fatalf("off with a dead recovery code: status %d, want 401", s)
	}
	tb.wantText("#disable-code-error", "")
	tb.fill("#disable-password", goodPassword)
	tb.fill("#disable-code", fresh)
	tb.submit("form:has(input[value=mfa-disable]) button")
	tb.wantPath("/account#mfa")
	tb.wantText(".flash", "Two-factor authentication is off.")
	tb.wantText("#mfa-status", "Off")
	if e.count(`SELECT count(*) FROM user_mfa WHERE user_id = $1 AND enabled_at IS NOT NULL`, id) != 0 {
		t.Fatal("two-factor still on in the database")
	}
}

// TestBrowserAccountProviders: a provider is linked from /account through
// the fake GitHub (a form post that leads to the provider and back to
// /account), with JavaScript off, and unlinked; a user whose only sign-in method is that
// provider cannot unlink it (409, the service's sentence).
func TestBrowserAccountProviders(t *testing.T) {
	t.Parallel()
	gh := oauthtest.NewGitHub(t, ghClientID, ghClientSecret)
	e := newPageEnv(t, withSecrets(t), func(cfg *service.Config) {
		cfg.Providers = []service.ProviderConfig{{ID: "github", Type: "oauth", Name: "GitHub",
			ClientID: ghClientID, ClientSecret: ghClientSecret, WebURL: gh.WebURL(), APIURL: gh.APIURL()}}
	})
	gh.SetRedirectURI(e.srv.URL + "/v1/auth/oauth/github/callback")
	gh.SetClock(e.clock.Now)
	e.seedPasswordUser("ada@example.com", goodPassword)
	// Without JavaScript: the page that leads to the provider moves on by
	// a Refresh header, not a script.
	tb := e.signedInTab("ada@example.com", goodPassword, withoutJavaScript)

	tb.wantText("#provider-github", "GitHub")
	if n := tb.count("#provider-github .badge"); n != 0 {
		t.Fatal("GitHub shown as linked before linking")
	}
	if s := tb.submit("#provider-github button"); s != http.StatusOK {
		t.Fatalf("link: status %d", s)
	}
	// The answer moves on to the provider by itself (Refresh), which
	// approves and sends the browser back to /account.
	tb.do("back at /account after linking", chromedp.WaitVisible("#provider-github .badge"))
	tb.wantPath("/account")
	tb.wantText("#provider-github", "Linked")
	if s := tb.submit("#provider-github button"); s != http.StatusOK {
		t.Fatalf("unlink: status %d", s)
	}
	tb.wantText(".flash", "The provider is unlinked.")
	if n := tb.count("#provider-github .badge"); n != 0 {
		t.Fatal("GitHub still shown as linked")
	}

	// Someone who signed up through GitHub has no password: unlinking it
	// would lock them out.
	gh.SetUser(oauthtest.GitHubUser{ID: 7, Login: "grace", Name: "Grace Hopper",
		Emails: []oauthtest.GitHubEmail{{Email: "grace@example.com", Primary: true, Verified: true}}})
	g := e.newTab()
	g.open("/login")
	g.submit("a[href^='/v1/auth/oauth/github/start']")
	g.wantPath("/account")
	if n := g.count("#password-currentPassword"); n != 0 {
		t.Fatal("a user without a password is asked for one")
	}
	g.wantText("#password-heading", "Set a password")
	if s := g.submit("#provider-github button"); s != http.StatusConflict {
		t.Fatalf("unlinking the last sign-in method: status %d, want 409", s)
	}
	g.wantText("#providers-error", "Set a password before removing your last sign-in method.")
	g.wantText("#provider-github", "Linked")
}

// TestBrowserAccountDelete, with JavaScript off: a wrong password is 403
// and deletes nothing; the right one deletes the user, signs the browser
// out and shows /login with a message.
func TestBrowserAccountDelete(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("ada@example.com", goodPassword)
	tb := e.signedInTab("ada@example.com", goodPassword, withoutJavaScript)

	tb.fill("#delete-password", "wrong horse battery staple")
	if s := tb.submit("form:has(input[value=delete]) button"); s != http.StatusForbidden {
		t.Fatalf("delete with a wrong password: status %d, want 403", s)
	}
	tb.wantText("#delete-password-error", "The password is incorrect.")
	if tb.count("#delete-password[autofocus]") != 1 {
		t.Fatal("the field in error has no focus")
	}
	if !e.userExists(id) {
		t.Fatal("the user was deleted with a wrong password")
	}
	tb.fill("#delete-password", goodPassword)
	tb.submit("form:has(input[value=delete]) button")
	tb.wantPath("/login")
	tb.wantText(".flash", "Your account is deleted.")
	if tb.cookie("session") != "" {
		t.Fatal("the session cookie outlived the account")
	}
	if e.userExists(id) {
		t.Fatal("the user still exists")
	}
}

// TestPageAccountPosts checks /account's form handler over plain HTTP: a
// cross-origin post is refused with 403 and changes nothing, a post
// without a session goes to /login, and an unknown action is 400.
func TestPageAccountPosts(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("ada@example.com", goodPassword)
	token := e.seedSession(id)
	post := func(form url.Values, header map[string]string) *http.Response {
		t.Helper()
		res, _ := postAccount(t, e, form, header)
		return res
	}
	del := url.Values{"action": {"delete"}, "password": {goodPassword}}
	for _, tt := range []struct {
		name     string
		form     url.Values
		header   map[string]string
		status   int
		location string
	}{
		{"cross-site fetch", del, map[string]string{"Cookie": "session=" + token, "Sec-Fetch-Site": "cross-site"},
			http.StatusForbidden, ""},
		{"foreign origin", del, map[string]string{"Cookie": "session=" + token, "Origin": "https://evil.example"},
			http.StatusForbidden, ""},
		{"no session", del, nil, http.StatusSeeOther, "/login"},
		{"unknown action", url.Values{"action": {"explode"}}, map[string]string{"Cookie": "session=" + token},
			http.StatusBadRequest, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := post(tt.form, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("got %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("Location"); got != tt.location {
				t.Fatalf("got Location %q, want %q", got, tt.location)
			}
			if !e.userExists(id) {
				t.Fatal("the user was deleted")
			}
		})
	}
}

// postAccount posts form to /account over plain HTTP, not following
// redirects, and returns the response and its body.
func postAccount(t *testing.T, e *env, form url.Values, header map[string]string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := http.NewRequestWithContext(context.Background(), "POST", e.srv.URL+"/account",
		strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	res, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestPageAccountRecoveryCodesOnce: the recovery codes are in the answer
// to the confirming post only: not stored by caches (no-store), not in a
// cookie or an address, and not on /account afterwards.
func TestPageAccountRecoveryCodesOnce(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withSecrets(t))
	id := e.seedPasswordUser("ada@example.com", goodPassword)
	token := e.seedSession(id)
	secret := e.mustEnrol(token).Secret
	cookie := map[string]string{"Cookie": "session=" + token}

	res, body := postAccount(t, e, url.Values{"action": {"mfa-confirm"}, "code": {e.code(secret, 0)}}, cookie)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm: got %d, want 200: %s", res.StatusCode, body)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("got Cache-Control %q, want no-store", got)
	}
	codes := regexp.MustCompile(`<li><code>([^<]+)</code></li>`).FindAllStringSubmatch(body, -1)
	if len(codes) != 10 {
		t.Fatalf("got %d recovery codes in the answer, want 10", len(codes))
	}
	for _, c := range res.Header.Values("Set-Cookie") {
		for _, code := range codes {
			if strings.Contains(c, code[1]) {
				t.Fatalf("a recovery code is in a cookie: %s", c)
			}
		}
	}
	if loc := res.Header.Get("Location"); loc != "" {
		t.Fatalf("the answer redirects to %s", loc)
	}
	if !e.mfaEnabled(token) {
		t.Fatal("two-factor is not on")
	}

	r := e.call(req{method: "GET", path: "/account", header: cookie})
	r.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(r.Body), `id="mfa-status"`) {
		t.Fatalf("GET /account is not the account page: %s", r.Body)
	}
	if strings.Contains(string(r.Body), codes[0][1]) || strings.Contains(string(r.Body), "recovery-codes") {
		t.Fatal("/account shows the recovery codes again")
	}
}

// wantNoCookieHolding fails if any cookie the tab would send to the server
// (on the paths cookies here use) holds secret.
func (tb *tab) wantNoCookieHolding(secret string) {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{
		tb.e.srv.URL + "/", tb.e.srv.URL + "/account", tb.e.srv.URL + "/login/mfa", tb.e.srv.URL + "/v1/auth/oauth/x/callback",
	}})
	if err != nil {
		tb.t.Fatalf("cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if strings.Contains(c.Value, secret) {
			tb.t.Fatalf("cookie %s holds a secret", c.Name)
		}
	}
}
