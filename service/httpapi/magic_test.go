package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/smtptest"
	"github.com/nextsecure/nextsecure/service"
)

// Tests of issue 11, magic links (API.md, "Magic link and email change").

// linkToken extracts the token of the link starting with prefix (after
// BASE_URL) in m.
func linkToken(t *testing.T, m smtptest.Message, path string) string {
	t.Helper()
	link := m.FindLink(baseURL + path + "?token=")
	if link == "" {
		t.Fatalf("no %s link in mail %q (subject %q)", path, m.Text, m.Subject)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// askMagicLink asks for a sign-in link and requires the contract's 202.
func (e *env) askMagicLink(email string) {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/auth/magic-link", body: map[string]string{"email": email}})
	r.wantStatus(e.t, http.StatusAccepted)
	if got, want := string(r.Body), `{"status":"magic_link_sent"}`+"\n"; got != want {
		e.t.Fatalf("magic-link body = %q, want %q", got, want)
	}
}

// mustMagicToken asks for a sign-in link for email and returns its token.
func (e *env) mustMagicToken(email string) string {
	e.t.Helper()
	e.askMagicLink(email)
	m := e.mailTo(email)
	if m.Subject != mail.SubjectMagicLink {
		e.t.Fatalf("last mail to %s is %q, want %q", email, m.Subject, mail.SubjectMagicLink)
	}
	return linkToken(e.t, m, "/magic-link")
}

// verifyMagic posts a sign-in link's token.
func (e *env) verifyMagic(token string) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/auth/magic-link/verify", body: map[string]string{"token": token}})
}

// countUsers counts the users with email (case-insensitively).
func (e *env) countUsers(email string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(),
		"SELECT count(*) FROM users WHERE lower(email) = lower($1)", email).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestMagicLinkFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)

	e.askMagicLink("  ADA@example.com ")
	m := e.mailTo("ada@example.com")
	if m.Subject != mail.SubjectMagicLink || !strings.Contains(m.Text, "expires in 15 minutes") {
		t.Errorf("mail %q %q: want the sign-in link, valid 15 minutes", m.Subject, m.Text)
	}
	token := linkToken(t, m, "/magic-link")
	if len(token) < 43 {
		t.Fatalf("token %q carries fewer than 256 bits", token)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Error("the raw token appears in the logs")
	}

	r := e.verifyMagic(token)
	r.wantStatus(t, http.StatusOK)
	var res authResult
	r.JSON(t, &res)
	if res.User.ID != ada.User.ID || res.User.Email != "ada@example.com" || res.Session.Token == "" {
		t.Errorf("signed in as %+v, want ada with a session", res)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "session="+res.Session.Token) {
		t.Errorf("Set-Cookie = %q, want the session", r.Header.Get("Set-Cookie"))
	}
	e.do(req{method: "GET", path: "/v1/me", token: res.Session.Token}).wantStatus(t, http.StatusOK)
	var detail string
	if err := e.pool.QueryRow(t.Context(), `SELECT detail FROM auth_events WHERE user_id = $1 AND type = 'login_success'`,
		ada.User.ID).Scan(&detail); err != nil || detail != "magic link" {
		t.Errorf("login_success detail = %q (%v), want %q", detail, err, "magic link")
	}

	// Single use.
	e.verifyMagic(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// A new link voids the earlier one.
	e.clock.Advance(time.Minute)
	first := e.mustMagicToken("ada@example.com")
	e.clock.Advance(time.Minute)
	second := e.mustMagicToken("ada@example.com")
	e.verifyMagic(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.verifyMagic(second).wantStatus(t, http.StatusOK)
}

// TestMagicLinkOnlyForActiveAccounts: unknown, malformed, pending and
// deactivated addresses get the same 202 and no mail; a magic link never
// creates an account.
func TestMagicLinkOnlyForActiveAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Pat", "pending@example.com", goodPassword)
	e.deliver()
	off := e.seedUser("off@example.com", "")
	e.exec("UPDATE users SET is_active = false WHERE id = $1", off)
	for _, email := range []string{"nobody@example.com", "not an email", "pending@example.com", "off@example.com"} {
		e.askMagicLink(email)
	}
	for _, email := range []string{"nobody@example.com", "pending@example.com", "off@example.com"} {
		if n := e.countSubjectTo(email, mail.SubjectMagicLink); n != 0 {
			t.Errorf("%s got %d sign-in mails, want 0", email, n)
		}
	}
	if n := e.countUsers("pending@example.com"); n != 0 {
		t.Errorf("users for the pending address = %d, want 0", n)
	}
	var tokens int
	if err := e.pool.QueryRow(t.Context(), "SELECT count(*) FROM verification_tokens WHERE purpose = 'magic_link'").Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 0 {
		t.Errorf("magic tokens = %d, want 0", tokens)
	}
}

// TestMagicLinkNeverAttachesPendingPassword: an attacker pre-registers the
// victim's address with a password; the victim's account (made without a
// password, as through a provider) signs in by magic link and still has no
// password, and the attacker's password signs nobody in.
func TestMagicLinkNeverAttachesPendingPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Mallory", "victim@example.com", newPassword)
	e.deliver()
	victim := e.seedUser("victim@example.com", "")
	r := e.verifyMagic(e.mustMagicToken("victim@example.com"))
	r.wantStatus(t, http.StatusOK)
	var res authResult
	r.JSON(t, &res)
	if res.User.ID != victim || res.User.HasPassword {
		t.Errorf("signed in as %+v, want the victim, without a password", res.User)
	}
	if h := e.storedHash(victim); h != "" {
		t.Errorf("the victim has a password hash %q, want none", h)
	}
	e.login("victim@example.com", newPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	if n := e.countUsers("victim@example.com"); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestMagicLinkExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.MagicLinkTTL = 2 * time.Minute })
	e.seedUser("ada@example.com", "")
	e.askMagicLink("ada@example.com")
	m := e.mailTo("ada@example.com")
	if !strings.Contains(m.Text, "expires in 2 minutes") {
		t.Errorf("mail %q: want it to state 2 minutes", m.Text)
	}
	token := linkToken(t, m, "/magic-link")
	e.clock.Advance(2*time.Minute + time.Second)
	e.verifyMagic(token).wantProblem(t, http.StatusBadRequest, "invalid_token")

	// Purged once expired.
	if err := e.svc.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	var tokens int
	if err := e.pool.QueryRow(t.Context(), "SELECT count(*) FROM verification_tokens").Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 0 {
		t.Errorf("tokens after purge = %d, want 0", tokens)
	}
}

// TestMagicLinkOneMailAMinute: a second request within the minute is
// delayed, not dropped, and its link is the one that works.
func TestMagicLinkOneMailAMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedUser("ada@example.com", "")
	e.askMagicLink("ada@example.com")
	first := linkToken(t, e.mailTo("ada@example.com"), "/magic-link")
	e.askMagicLink("ada@example.com")
	if n := e.countSubjectTo("ada@example.com", mail.SubjectMagicLink); n != 1 {
		t.Fatalf("sign-in mails within the minute = %d, want 1", n)
	}
	e.clock.Advance(time.Minute)
	e.runDelayed()
	if n := e.countSubjectTo("ada@example.com", mail.SubjectMagicLink); n != 2 {
		t.Fatalf("sign-in mails after the minute = %d, want 2", n)
	}
	second := linkToken(t, e.mailTo("ada@example.com"), "/magic-link")
	e.verifyMagic(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.verifyMagic(second).wantStatus(t, http.StatusOK)
}

func TestMagicLinkSetsEmailVerified(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", "")
	e.exec("UPDATE users SET email_verified = NULL WHERE id = $1", id)
	r := e.verifyMagic(e.mustMagicToken("ada@example.com"))
	r.wantStatus(t, http.StatusOK)
	var res authResult
	r.JSON(t, &res)
	if res.User.EmailVerified == nil {
		t.Error("emailVerified = null after a magic link, want now")
	}
}

// TestMagicLinkWhileLocked: a magic link signs in while password sign-in
// is locked by failed attempts, and leaves the lock in place.
func TestMagicLinkWhileLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.lockOut("ada@example.com")
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	e.verifyMagic(e.mustMagicToken("ada@example.com")).wantStatus(t, http.StatusOK)
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
}

// TestMagicLinkDeactivated: a deactivated account's link answers 403
// account_disabled, opens no session and is used up.
func TestMagicLinkDeactivated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", "")
	token := e.mustMagicToken("ada@example.com")
	e.exec("UPDATE users SET is_active = false WHERE id = $1", id)
	r := e.verifyMagic(token)
	r.wantProblem(t, http.StatusForbidden, "account_disabled")
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("Set-Cookie = %q, want none", r.Header.Get("Set-Cookie"))
	}
	if n := e.liveSessions(id); n != 0 {
		t.Errorf("sessions = %d, want 0", n)
	}
	e.exec("UPDATE users SET is_active = true WHERE id = $1", id)
	e.verifyMagic(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
}

// TestMagicLinkLosesRaceToDeactivation: a deactivation that holds the user
// row when a magic sign-in comes makes the sign-in wait for it and then see
// it (the session rule: the user is checked active with its row locked, in
// the transaction that opens the session): 403, no session.
func TestMagicLinkLosesRaceToDeactivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", "")
	token := e.mustMagicToken("ada@example.com")
	tx, err := e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "UPDATE users SET is_active = false WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	var status int
	var body []byte
	var wg sync.WaitGroup
	wg.Go(func() {
		status, body = e.send(req{method: "POST", path: "/v1/auth/magic-link/verify", body: map[string]string{"token": token}})
	})
	waitUntil(t, "the sign-in waits for the user row", func() bool { return waiting(t, e.pool, "transactionid", "tuple") == 1 })
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if status != http.StatusForbidden || !strings.Contains(string(body), "account_disabled") {
		t.Errorf("sign-in answered %d %s, want 403 account_disabled", status, body)
	}
	if n := e.liveSessions(id); n != 0 {
		t.Errorf("sessions = %d, want 0", n)
	}
}

// TestMagicRoutesThrottledPerAddress: the new public routes are limited
// per client address like the others, each with its own budget.
func TestMagicRoutesThrottledPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		path string
		body map[string]string
		want int
	}{
		{"/v1/auth/magic-link", map[string]string{"email": "nobody@example.com"}, http.StatusAccepted},
		{"/v1/auth/magic-link/verify", map[string]string{"token": "no such token"}, http.StatusBadRequest},
		{"/v1/auth/email/confirm", map[string]string{"token": "no such token"}, http.StatusBadRequest},
	} {
		t.Run(tt.path, func(t *testing.T) {
			for range 100 {
				e.do(req{method: "POST", path: tt.path, body: tt.body}).wantStatus(t, tt.want)
			}
			r := e.do(req{method: "POST", path: tt.path, body: tt.body})
			r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 5*time.Minute)
		})
	}
}

// TestMagicLinkBoundToAddress: a link works only while its account is at
// the address it was sent to.
func TestMagicLinkBoundToAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", "")
	token := e.mustMagicToken("ada@example.com")
	e.exec("UPDATE users SET email = 'ada@elsewhere.example' WHERE id = $1", id)
	e.verifyMagic(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if n := e.liveSessions(id); n != 0 {
		t.Errorf("sessions = %d, want 0", n)
	}
}
