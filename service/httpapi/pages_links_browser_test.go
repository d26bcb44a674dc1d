package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
)

// Browser tests of the pages emailed links and second factors lead to
// (issue 13): /forgot-password, /reset-password, /magic-link,
// /confirm-email, /login/mfa, and provider sign-in from /login.

// TestBrowserForgotAndReset asks for a reset link on /forgot-password, opens
// the emailed link, is refused a weak password (the token kept), sets a new
// one: the old sessions end, the token leaves the address bar, the new
// password signs in and the spent link offers a new one.
func TestBrowserForgotAndReset(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("rita@example.com", goodPassword)
	old := e.seedSession(id)
	tb := e.newTab(withoutJavaScript)

	tb.open("/login")
	tb.submit("a[href='/forgot-password']")
	tb.wantPath("/forgot-password")
	if got := tb.attr("#f-email", "autocomplete"); got != "email" {
		t.Errorf("email autocomplete = %q, want email", got)
	}
	tb.fill("#f-email", "Rita@Example.com")
	tb.submit("form[action='/forgot-password'] button")
	tb.wantPath("/login")
	tb.wantText(".flash", "we sent it a link")

	link := e.mailedLink("rita@example.com", "/reset-password?token=")
	token := strings.TrimPrefix(link, e.srv.URL+"/reset-password?token=")
	tb.open(strings.TrimPrefix(link, e.srv.URL))
	if got := tb.attr("#f-password", "autocomplete"); got != "new-password" {
		t.Errorf("password autocomplete = %q, want new-password", got)
	}
	if got := tb.attr("input[name=token]", "value"); got != token {
		t.Fatalf("hidden token = %q, want the link's", got)
	}

	tb.fill("#f-password", "password")
	if s := tb.submit("form[action='/reset-password'] button"); s != http.StatusUnprocessableEntity {
		t.Fatalf("a common password: status %d, want 422", s)
	}
	tb.wantPath("/reset-password")
	if got := tb.attr("#f-password", "aria-invalid"); got != "true" {
		t.Errorf("password aria-invalid = %q, want true", got)
	}
	if got := tb.attr("#f-password", "aria-describedby"); got != "f-password-error" {
		t.Errorf("password aria-describedby = %q", got)
	}
	if got := tb.attr("input[name=token]", "value"); got != token {
		t.Fatalf("after a refused password the hidden token = %q, want the link's", got)
	}

	const newPassword = "a brand new pass phrase for rita"
	tb.fill("#f-password", newPassword)
	tb.submit("form[action='/reset-password'] button")
	tb.wantPath("/login")
	tb.wantText(".flash", "Your password is changed")
	e.wantSessionDead(old)

	tb.fill("#f-email", "rita@example.com")
	tb.fill("#f-password", goodPassword)
	if s := tb.submit("form[action='/login'] button[type=submit]"); s != http.StatusUnauthorized {
		t.Fatalf("the old password: status %d, want 401", s)
	}
	tb.fill("#f-password", newPassword)
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/account")

	// The spent link: its page still shows the form (GET checks nothing),
	// the button answers that it is invalid and offers a new one.
	tb.open(strings.TrimPrefix(link, e.srv.URL))
	tb.fill("#f-password", "yet another long pass phrase")
	if s := tb.submit("form[action='/reset-password'] button"); s != http.StatusBadRequest {
		t.Fatalf("a spent link: status %d, want 400", s)
	}
	tb.wantPath("/reset-password")
	tb.wantText("[role=alert]", "invalid or has expired")
	if n := tb.count("a[href='/forgot-password']"); n == 0 {
		t.Error("a spent reset link offers no new one")
	}
	if n := tb.count("input[name=token]"); n != 0 {
		t.Error("a spent reset link's page still holds the token")
	}
}

// TestBrowserMagicLinkSignIn asks for a sign-in link on /login, opens it
// (without JavaScript) and signs in with the button; the token leaves the
// address bar and works only once.
func TestBrowserMagicLinkSignIn(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("mona@example.com", goodPassword)
	tb := e.newTab(withoutJavaScript)

	tb.open("/login")
	tb.fill("#magic-email", "Mona@Example.com")
	tb.submit("form[action='/login'] button.secondary")
	tb.wantPath("/login")
	tb.wantText(".flash", "sign-in link")

	link := strings.TrimPrefix(e.mailedLink("mona@example.com", "/magic-link?token="), e.srv.URL)
	if s := tb.open(link); s != http.StatusOK {
		t.Fatalf("the magic link page served %d", s)
	}
	tb.wantText("main", "signs you in")
	tb.submit("form[action='/magic-link'] button")
	tb.wantPath("/account")
	tb.wantText(".flash", "You are signed in")
	if tb.cookie("session") == "" {
		t.Fatal("no session cookie after the magic link")
	}

	other := e.newTab()
	other.open(link)
	if s := other.submit("form[action='/magic-link'] button"); s != http.StatusBadRequest {
		t.Fatalf("a used magic link: status %d, want 400", s)
	}
	other.wantPath("/magic-link")
	other.wantText("[role=alert]", "invalid or has expired")
	if other.cookie("session") != "" {
		t.Error("a used magic link set a session cookie")
	}
}

// TestBrowserTokenNotConsumedByGet opens emailed links as a mail scanner
// would (GET, no script): neither the reset token nor the sign-in token is
// spent, and each works afterwards.
func TestBrowserTokenNotConsumedByGet(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedPasswordUser("sam@example.com", goodPassword)
	e.do(req{method: "POST", path: "/v1/auth/password/forgot", body: map[string]string{"email": "sam@example.com"}}).
		wantStatus(t, http.StatusAccepted)
	reset := e.mailedLink("sam@example.com", "/reset-password?token=")
	e.do(req{method: "POST", path: "/v1/auth/magic-link", body: map[string]string{"email": "sam@example.com"}}).
		wantStatus(t, http.StatusAccepted)
	magic := e.mailedLink("sam@example.com", "/magic-link?token=")

	scanner := e.newTab(withoutJavaScript)
	for _, link := range []string{reset, magic, reset, magic} {
		if s := scanner.open(strings.TrimPrefix(link, e.srv.URL)); s != http.StatusOK {
			t.Fatalf("GET %s: %d", link, s)
		}
	}
	if scanner.cookie("session") != "" {
		t.Fatal("opening a magic link signed in")
	}
	for _, tt := range []struct{ purpose, link, prefix string }{
		{"reset_password", reset, "/reset-password?token="},
		{"magic_link", magic, "/magic-link?token="},
	} {
		token := strings.TrimPrefix(tt.link, e.srv.URL+tt.prefix)
		if n := e.count(`SELECT count(*) FROM verification_tokens WHERE token = $1 AND purpose = $2`,
			tokenHashHex(token), tt.purpose); n != 1 {
			t.Errorf("%s token rows after GETs = %d, want 1", tt.purpose, n)
		}
	}
	// Still usable: the magic link through the JSON route, the reset
	// link through its button.
	token := strings.TrimPrefix(magic, e.srv.URL+"/magic-link?token=")
	wantSession(t, e.do(req{method: "POST", path: "/v1/auth/magic-link/verify", body: map[string]string{"token": token}}))
	tb := e.newTab()
	tb.open(strings.TrimPrefix(reset, e.srv.URL))
	tb.fill("#f-password", "scanner proof pass phrase")
	tb.submit("form[action='/reset-password'] button")
	tb.wantPath("/login")
	tb.wantText(".flash", "Your password is changed")
}

// TestBrowserMFASignIn signs in with a password to /login/mfa, is refused a
// wrong code, enters the right one and reaches /account; another browser
// signs in by magic link and finishes with a recovery code; without the mfa
// cookie /login/mfa goes back to /login.
func TestBrowserMFASignIn(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withLinkAuthSecret(t))
	u := e.seedMFAUser("tess@example.com")

	lost := e.newTab()
	lost.open("/login/mfa")
	lost.wantPath("/login")

	tb := e.newTab()
	tb.open("/login")
	tb.fill("#f-email", u.email)
	tb.fill("#f-password", goodPassword)
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/login/mfa")
	if tb.cookie("session") != "" {
		t.Fatal("a session cookie before the second factor")
	}
	for name, want := range map[string]string{"autocomplete": "one-time-code", "inputmode": "numeric", "type": "text"} {
		if got := tb.attr("#f-code", name); got != want {
			t.Errorf("code %s = %q, want %q", name, got, want)
		}
	}
	if n := tb.count("#f-recoveryCode"); n != 1 {
		t.Errorf("%d recovery code fields, want 1", n)
	}
	tb.fill("#f-code", e.wrongCode(u.secret))
	if s := tb.submit("#code-form button"); s != http.StatusUnauthorized {
		t.Fatalf("a wrong code: status %d, want 401", s)
	}
	if got := tb.attr("#f-code", "aria-invalid"); got != "true" {
		t.Errorf("code aria-invalid = %q, want true", got)
	}
	tb.wantText("#f-code-error", "incorrect")
	if got := get(tb, "focus", chromedp.Evaluate[string]("document.activeElement.id")); got != "f-code" {
		t.Errorf("focus on %q after a wrong code, want f-code", got)
	}
	tb.fill("#f-code", e.code(u.secret, 0))
	tb.submit("#code-form button")
	tb.wantPath("/account")
	if tb.cookie("session") == "" {
		t.Fatal("no session cookie after the second factor")
	}
	if tb.cookie("mfa_token") != "" {
		t.Error("the mfa cookie was kept after the sign-in")
	}

	// A magic link leads to the second factor too; a recovery code ends it.
	rb := e.newTab()
	rb.open("/login")
	rb.fill("#magic-email", u.email)
	rb.submit("form[action='/login'] button.secondary")
	rb.open(strings.TrimPrefix(e.mailedLink(u.email, "/magic-link?token="), e.srv.URL))
	rb.submit("form[action='/magic-link'] button")
	rb.wantPath("/login/mfa")
	rb.fill("#f-recoveryCode", u.recovery[0])
	rb.submit("#recovery-form button")
	rb.wantPath("/account")
	if rb.cookie("session") == "" {
		t.Fatal("no session cookie after a recovery code")
	}

	// A used recovery code is refused on the page of its own form.
	again := e.newTab()
	again.open("/login")
	again.fill("#f-email", u.email)
	again.fill("#f-password", goodPassword)
	again.submit("form[action='/login'] button[type=submit]")
	again.fill("#f-recoveryCode", u.recovery[0])
	if s := again.submit("#recovery-form button"); s != http.StatusUnauthorized {
		t.Fatalf("a used recovery code: status %d, want 401", s)
	}
	if got := again.attr("#f-recoveryCode", "aria-invalid"); got != "true" {
		t.Errorf("recovery code aria-invalid = %q, want true", got)
	}
	if got := get(again, "focus", chromedp.Evaluate[string]("document.activeElement.id")); got != "f-recoveryCode" {
		t.Errorf("focus on %q after a wrong recovery code, want f-recoveryCode", got)
	}
}

// TestBrowserMFAExpired comes back to /login/mfa after the mfa token's five
// minutes: the page sends the browser to /login with a message and the
// cookie is gone.
func TestBrowserMFAExpired(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withLinkAuthSecret(t))
	u := e.seedMFAUser("uma@example.com")
	tb := e.newTab()
	tb.open("/login")
	tb.fill("#f-email", u.email)
	tb.fill("#f-password", goodPassword)
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/login/mfa")
	e.clock.Advance(6 * time.Minute)
	tb.fill("#f-code", e.code(u.secret, 0))
	tb.submit("#code-form button")
	tb.wantPath("/login")
	tb.wantText(".flash", "sign in again")
	if tb.cookie("mfa_token") != "" {
		t.Error("the dead mfa cookie was kept")
	}
}

// TestBrowserProviderSignIn clicks each provider's button on /login: the
// fake provider approves at once and redirects back, and the browser is
// signed in at /account. A user with two-factor on is sent to /login/mfa.
func TestBrowserProviderSignIn(t *testing.T) {
	t.Parallel()
	p := newLinkProviders(t)
	e := p.env
	tb := e.newTab()
	tb.open("/login")
	if n := tb.count(".providers a"); n != 2 {
		t.Fatalf("/login shows %d provider buttons, want 2", n)
	}
	tb.wantText(".providers", "Continue with Corp SSO")
	tb.submit(".providers a[href^='/v1/auth/oauth/corp/start']")
	tb.wantPath("/account")
	if tb.cookie("session") == "" {
		t.Fatal("no session cookie after the provider sign-in")
	}
	if n := e.count(`SELECT count(*) FROM users u JOIN accounts a ON a.user_id = u.id
		WHERE lower(u.email) = 'alice@example.com' AND a.provider = 'corp'`); n != 1 {
		t.Errorf("corp accounts of alice = %d, want 1", n)
	}

	gh := e.newTab(withoutJavaScript)
	gh.open("/login")
	gh.submit(".providers a[href^='/v1/auth/oauth/github/start']")
	gh.wantPath("/account")
	if gh.cookie("session") == "" {
		t.Fatal("no session cookie after the GitHub sign-in")
	}

	// A refusal at the provider comes back to /login as a sentence.
	p.corp.DenyNext()
	denied := e.newTab()
	denied.open("/login")
	denied.submit(".providers a[href^='/v1/auth/oauth/corp/start']")
	denied.wantPath("/login?error=oauth_denied")
	denied.wantText("[role=alert]", "cancelled")

	// Two-factor on: the provider leads to the second factor.
	u := e.seedMFAUser("mfa-octo@example.com")
	p.gh.SetUser(oauthtest.GitHubUser{ID: 777, Login: "mfa-octo", Name: "Mfa Octo",
		Emails: []oauthtest.GitHubEmail{{Email: u.email, Primary: true, Verified: true}}})
	mb := e.newTab()
	mb.open("/login")
	mb.submit(".providers a[href^='/v1/auth/oauth/github/start']")
	mb.wantPath("/login/mfa")
	mb.fill("#f-code", e.code(u.secret, 0))
	mb.submit("#code-form button")
	mb.wantPath("/account")
}

// TestBrowserConfirmEmailChange opens the link mailed to a new address in
// the signed-in browser and confirms it; a link whose address was taken
// meanwhile answers 409 with a sentence.
func TestBrowserConfirmEmailChange(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("vera@example.com", goodPassword)
	api := e.seedSession(id)
	tb := e.newTab()
	tb.open("/login")
	tb.fill("#f-email", "vera@example.com")
	tb.fill("#f-password", goodPassword)
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/account")

	requestEmailChange(t, e, api, "vera.new@example.com")
	link := strings.TrimPrefix(e.mailedLink("vera.new@example.com", "/confirm-email?token="), e.srv.URL)
	tb.open(link)
	tb.wantText("main", "makes this address the email of your account")
	if got := e.whoami(api).Email; got != "vera@example.com" {
		t.Fatalf("opening the link changed the email to %s", got)
	}
	tb.submit("form[action='/confirm-email'] button")
	tb.wantPath("/account")
	tb.wantText(".flash", "new email address is confirmed")
	if got := e.whoami(api).Email; got != "vera.new@example.com" {
		t.Fatalf("email after confirming = %s, want vera.new@example.com", got)
	}

	// Taken meanwhile, in a browser that is not signed in.
	requestEmailChange(t, e, api, "vera.third@example.com")
	link = strings.TrimPrefix(e.mailedLink("vera.third@example.com", "/confirm-email?token="), e.srv.URL)
	e.seedPasswordUser("vera.third@example.com", goodPassword)
	other := e.newTab()
	other.open(link)
	if s := other.submit("form[action='/confirm-email'] button"); s != http.StatusConflict {
		t.Fatalf("an address taken meanwhile: status %d, want 409", s)
	}
	other.wantText("[role=alert]", "already in use")
	other.wantPath("/confirm-email")

	// A wrong token.
	other.open("/confirm-email?token=not-a-token")
	if s := other.submit("form[action='/confirm-email'] button"); s != http.StatusBadRequest {
		t.Fatalf("a wrong token: status %d, want 400", s)
	}
	other.wantText("[role=alert]", "invalid or has expired")
}

// linkPost posts a form to e's server as a page of the same site would
// (e.postForm), with the cookies, and does not follow redirects.
func linkPost(e *env, path string, form url.Values, header map[string]string, cookies ...*http.Cookie) *response {
	e.t.Helper()
	h := map[string]string{"Sec-Fetch-Site": "same-origin", "Cookie": linkCookies(cookies)}
	for k, v := range header {
		h[k] = v
	}
	return e.postForm(path, form, h)
}

// linkGet gets path with the cookies, without following redirects.
func linkGet(e *env, path string, cookies ...*http.Cookie) *response {
	e.t.Helper()
	hr, err := http.NewRequest("GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if c := linkCookies(cookies); c != "" {
		hr.Header.Set("Cookie", c)
	}
	return e.exchange(hr)
}

func linkCookies(cookies []*http.Cookie) string {
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// linkSetCookies returns the cookies r sets.
func linkSetCookies(r *response) []*http.Cookie {
	return (&http.Response{Header: r.Header}).Cookies()
}

// TestPageLinksHeaders opens each page an emailed link leads to: 200, the
// token only in the form's hidden field, never cached, no referrer, the
// strict CSP and no script.
func TestPageLinksHeaders(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	for _, path := range []string{"/reset-password", "/magic-link", "/confirm-email"} {
		res := linkGet(e, path+"?token=tok-123_abc")
		body := string(res.Body)
		if res.Status != http.StatusOK {
			t.Errorf("GET %s: %d", path, res.Status)
		}
		for k, want := range map[string]string{
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
			!strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		if !strings.Contains(body, `<form method="post" action="`+path+`"`) ||
			!strings.Contains(body, `<input type="hidden" name="token" value="tok-123_abc">`) {
			t.Errorf("GET %s: no form posting the token to %s:\n%s", path, path, body)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("GET %s has a script", path)
		}
		// Without a token the page offers a new link instead of a form.
		res = linkGet(e, path)
		if body := string(res.Body); res.Status != http.StatusOK || strings.Contains(body, `name="token"`) ||
			!strings.Contains(body, `id="ask-again"`) {
			t.Errorf("GET %s without a token: %d\n%s", path, res.Status, body)
		}
	}
	if res := linkGet(e, "/forgot-password"); res.Status != http.StatusOK {
		t.Errorf("GET /forgot-password: %d", res.Status)
	}
}

// TestPageLinksCrossOrigin posts each link page's form from another site:
// 403, and the token is still good afterwards.
func TestPageLinksCrossOrigin(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("xena@example.com", goodPassword)
	reset := e.seedResetToken(id, "xena@example.com")
	e.do(req{method: "POST", path: "/v1/auth/magic-link", body: map[string]string{"email": "xena@example.com"}}).
		wantStatus(t, http.StatusAccepted)
	magic := strings.TrimPrefix(e.mailedLink("xena@example.com", "/magic-link?token="), e.srv.URL+"/magic-link?token=")
	for _, tt := range []struct {
		name, path string
		form       url.Values
		header     map[string]string
	}{
		{"reset cross-site", "/reset-password", url.Values{"token": {reset}, "password": {"an attacker's pass phrase"}},
			map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"reset other origin", "/reset-password", url.Values{"token": {reset}, "password": {"an attacker's pass phrase"}},
			map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}},
		{"magic cross-site", "/magic-link", url.Values{"token": {magic}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"forgot cross-site", "/forgot-password", url.Values{"email": {"xena@example.com"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"confirm cross-site", "/confirm-email", url.Values{"token": {"x"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"mfa cross-site", "/login/mfa", url.Values{"code": {"123456"}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := linkPost(e, tt.path, tt.form, tt.header)
			if res.Status != http.StatusForbidden {
				t.Errorf("got %d, want 403", res.Status)
			}
			for _, c := range linkSetCookies(res) {
				if c.Name == "session" && c.MaxAge >= 0 {
					t.Error("a refused post set a session cookie")
				}
			}
		})
	}
	wantSession(t, e.do(req{method: "POST", path: "/v1/auth/magic-link/verify", body: map[string]string{"token": magic}}))
	e.do(req{method: "POST", path: "/v1/auth/password/reset", body: map[string]string{"token": reset, "password": "the owner's new phrase"}}).
		wantStatus(t, http.StatusNoContent)
}

// TestPageMFAWithoutToken: /login/mfa without the mfa cookie, or with a dead
// one, goes back to /login, and a dead cookie is removed.
func TestPageMFAWithoutToken(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withLinkAuthSecret(t))
	if res := linkGet(e, "/login/mfa"); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("GET without the cookie: %d to %q, want 303 to /login", res.Status, res.Header.Get("Location"))
	}
	if res := linkPost(e, "/login/mfa", url.Values{"code": {"123456"}}, nil); res.Status != http.StatusSeeOther ||
		res.Header.Get("Location") != "/login" {
		t.Errorf("POST without the cookie: %d to %q, want 303 to /login", res.Status, res.Header.Get("Location"))
	}
	dead := &http.Cookie{Name: "mfa_token", Value: "not-a-live-token"}
	if res := linkGet(e, "/login/mfa", dead); res.Status != http.StatusOK {
		t.Errorf("GET with a cookie: %d, want 200", res.Status)
	}
	res := linkPost(e, "/login/mfa", url.Values{"code": {"123456"}}, nil, dead)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Errorf("POST with a dead token: %d to %q, want 303 to /login", res.Status, res.Header.Get("Location"))
	}
	cleared := false
	for _, c := range linkSetCookies(res) {
		if c.Name == "mfa_token" && c.MaxAge < 0 {
			cleared = true
		}
		if c.Name == "session" && c.MaxAge >= 0 {
			t.Error("a dead mfa token set a session cookie")
		}
	}
	if !cleared {
		t.Errorf("a dead mfa cookie was not removed: %q", res.Header.Values("Set-Cookie"))
	}
}

// TestPageLinksThrottled: each page counts its posts under the JSON
// route's name, so the limit is shared: past it both answer 429 with
// Retry-After.
func TestPageLinksThrottled(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, withLinkAuthSecret(t))
	for _, tt := range []struct {
		route, path, api string
		form             url.Values
		body             map[string]string
	}{
		{"forgot", "/forgot-password", "/v1/auth/password/forgot", url.Values{"email": {"nobody"}}, map[string]string{"email": "nobody"}},
		{"reset", "/reset-password", "/v1/auth/password/reset", url.Values{"token": {"x"}, "password": {"short"}},
			map[string]string{"token": "x", "password": "short"}},
		{"magic-link-verify", "/magic-link", "/v1/auth/magic-link/verify", url.Values{"token": {"x"}}, map[string]string{"token": "x"}},
		{"email-confirm", "/confirm-email", "/v1/auth/email/confirm", url.Values{"token": {"x"}}, map[string]string{"token": "x"}},
		{"login-mfa", "/login/mfa", "/v1/auth/login/mfa", url.Values{"code": {"123456"}}, map[string]string{"mfaToken": "x", "code": "123456"}},
	} {
		t.Run(tt.route, func(t *testing.T) {
			cookie := &http.Cookie{Name: "mfa_token", Value: "x"}
			linkPost(e, tt.path, tt.form, nil, cookie)
			key := "ip:" + tt.route + ":%"
			if n := e.count(`SELECT COALESCE(sum(count), 0)::int FROM rate_limits WHERE key LIKE $1`, key); n != 1 {
				t.Fatalf("the page's post counted %d times under %s, want 1", n, key)
			}
			e.exec(`UPDATE rate_limits SET count = 1000 WHERE key LIKE $1`, key)
			res := linkPost(e, tt.path, tt.form, nil, cookie)
			if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
				t.Errorf("past the limit the page answered %d (Retry-After %q), want 429 with Retry-After",
					res.Status, res.Header.Get("Retry-After"))
			}
			// A link's token stays in the form: it is not spent, so trying
			// again later works.
			if tt.form.Has("token") && !strings.Contains(string(res.Body), `name="token" value="x"`) {
				t.Errorf("the 429 page dropped the link's token")
			}
			e.do(req{method: "POST", path: tt.api, body: tt.body}).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
		})
	}
}

// TestPageLinksOutcomes: an email change confirmed in a browser that is not
// signed in goes to /login with the message; a deactivated account's
// magic link answers 403 with a sentence and no session.
func TestPageLinksOutcomes(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	id := e.seedPasswordUser("wren@example.com", goodPassword)
	session := e.seedSession(id)
	requestEmailChange(t, e, session, "wren.new@example.com")
	token := strings.TrimPrefix(e.mailedLink("wren.new@example.com", "/confirm-email?token="), e.srv.URL+"/confirm-email?token=")
	res := linkPost(e, "/confirm-email", url.Values{"token": {token}}, nil)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("confirm signed out: %d to %q, want 303 to /login", res.Status, res.Header.Get("Location"))
	}
	flash := ""
	for _, c := range linkSetCookies(res) {
		if c.Name == "flash" {
			flash = c.Value
		}
	}
	if flash != "email_confirmed" {
		t.Errorf("flash %q, want email_confirmed", flash)
	}
	if got := e.whoami(session).Email; got != "wren.new@example.com" {
		t.Errorf("email %s, want wren.new@example.com", got)
	}

	other := e.seedPasswordUser("yann@example.com", goodPassword)
	e.do(req{method: "POST", path: "/v1/auth/magic-link", body: map[string]string{"email": "yann@example.com"}}).
		wantStatus(t, http.StatusAccepted)
	magic := strings.TrimPrefix(e.mailedLink("yann@example.com", "/magic-link?token="), e.srv.URL+"/magic-link?token=")
	e.exec(`UPDATE users SET is_active = false WHERE id = $1`, other)
	res = linkPost(e, "/magic-link", url.Values{"token": {magic}}, nil)
	if body := string(res.Body); res.Status != http.StatusForbidden || !strings.Contains(body, `role="alert"`) ||
		strings.Contains(body, `name="token"`) {
		t.Errorf("a deactivated account's link: %d\n%s", res.Status, body)
	}
	for _, c := range linkSetCookies(res) {
		if c.Name == "session" && c.MaxAge >= 0 {
			t.Error("a deactivated account's link set a session cookie")
		}
	}
}
