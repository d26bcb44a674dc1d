package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/service"
)

// Tests of issue 11, email change (API.md, "Magic link and email change").

// askEmailChange posts an email change with the session token.
func (e *env) askEmailChange(token, email, password string) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/me/email", token: token,
		body: map[string]string{"email": email, "password": password}})
}

// mustChangeToken asks for a change to email and returns the mailed token.
func (e *env) mustChangeToken(token, email, password string) string {
	e.t.Helper()
	r := e.askEmailChange(token, email, password)
	r.wantStatus(e.t, http.StatusAccepted)
	if got, want := string(r.Body), `{"status":"email_change_sent"}`+"\n"; got != want {
		e.t.Fatalf("email change body = %q, want %q", got, want)
	}
	m := e.mailTo(email)
	if m.Subject != mail.SubjectConfirmEmail {
		e.t.Fatalf("last mail to %s is %q, want %q", email, m.Subject, mail.SubjectConfirmEmail)
	}
	return linkToken(e.t, m, "/confirm-email")
}

// confirmEmail posts an email change token.
func (e *env) confirmEmail(token string) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/auth/email/confirm", body: map[string]string{"token": token}})
}

// currentEmail returns a user's stored email.
func (e *env) currentEmail(userID string) string {
	e.t.Helper()
	var email string
	if err := e.pool.QueryRow(context.Background(), "SELECT email FROM users WHERE id = $1", userID).Scan(&email); err != nil {
		e.t.Fatal(err)
	}
	return email
}

func TestEmailChangeFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	session := ada.Session.Token
	oldReset := e.mustResetToken("ada@example.com")
	oldMagic := e.mustMagicToken("ada@example.com")

	token := e.mustChangeToken(session, "Ada@New.example", goodPassword)
	confirm := e.mailTo("ada@new.example")
	if !strings.Contains(confirm.Text, "Hi Ada,") || !strings.Contains(confirm.Text, "expires in 24 hours") {
		t.Errorf("confirmation %q: want the greeting and 24 hours", confirm.Text)
	}
	notice := e.mailTo("ada@example.com")
	if notice.Subject != mail.SubjectEmailChangeAsk || !strings.Contains(notice.Text, "ada@new.example") {
		t.Errorf("mail to the current address %q %q, want the change-requested notice naming the new address",
			notice.Subject, notice.Text)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Error("the raw token appears in the logs")
	}
	// Nothing changes before the confirmation.
	if got := e.currentEmail(ada.User.ID); got != "ada@example.com" {
		t.Fatalf("email before confirmation = %q, want the old one", got)
	}

	e.clock.Advance(time.Second)
	r := e.confirmEmail(token)
	r.wantStatus(t, http.StatusOK)
	var user struct {
		Email         string  `json:"email"`
		EmailVerified *string `json:"emailVerified"`
	}
	r.JSON(t, &user)
	if user.Email != "ada@new.example" || user.EmailVerified == nil {
		t.Errorf("user = %+v, want the new email, verified", user)
	}
	verified, err := time.Parse(time.RFC3339Nano, *user.EmailVerified)
	if err != nil || !verified.Equal(e.clock.Now()) {
		t.Errorf("emailVerified = %v (%v), want now (%v)", verified, err, e.clock.Now())
	}
	// Sessions stay.
	me := e.do(req{method: "GET", path: "/v1/me", token: session})
	me.wantStatus(t, http.StatusOK)
	if !strings.Contains(string(me.Body), `"email":"ada@new.example"`) {
		t.Errorf("GET /v1/me = %s, want the new email", me.Body)
	}
	// The old address notice, the audit event with both addresses.
	if n := e.countSubjectTo("ada@example.com", mail.SubjectEmailChanged); n != 1 {
		t.Errorf("changed notices to the old address = %d, want 1", n)
	}
	var detail string
	if err := e.pool.QueryRow(t.Context(), `SELECT detail FROM auth_events WHERE user_id = $1 AND type = 'email_changed'`,
		ada.User.ID).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "ada@example.com") || !strings.Contains(detail, "ada@new.example") {
		t.Errorf("audit detail = %q, want both addresses", detail)
	}
	// Single use; sign-in follows the address; links sent to the old one die.
	e.confirmEmail(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	e.mustLogin("ada@new.example", goodPassword)
	e.resetPassword(oldReset, newPassword).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.verifyMagic(oldMagic).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// A sign-in link now goes to the new address.
	e.verifyMagic(e.mustMagicToken("ada@new.example")).wantStatus(t, http.StatusOK)
}

func TestEmailChangeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	for _, tt := range []struct {
		name, email, password string
		status                int
		code                  string
	}{
		{"wrong password", "new@example.com", "wrong password", 403, "invalid_credentials"},
		{"no password", "new@example.com", "", 403, "invalid_credentials"},
		{"invalid email", "not an email", goodPassword, 422, "validation_failed"},
		{"same email", " ADA@example.com", goodPassword, 422, "validation_failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := e.askEmailChange(ada.Session.Token, tt.email, tt.password).wantProblem(t, tt.status, tt.code)
			if tt.name == "same email" && (len(p.Errors) != 1 || p.Errors[0].Field != "email" || p.Errors[0].Code != "unchanged") {
				t.Errorf("errors = %+v, want one unchanged for email", p.Errors)
			}
		})
	}
	e.do(req{method: "POST", path: "/v1/me/email", body: map[string]string{"email": "x@example.com", "password": goodPassword}}).
		wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	e.do(req{method: "POST", path: "/v1/me/email", token: ada.Session.Token,
		body: `{"email":"x@example.com","Email":"y@example.com","password":"` + goodPassword + `"}`}).
		wantProblem(t, http.StatusBadRequest, "invalid_json")
	if n := e.countSubjectTo("new@example.com", mail.SubjectConfirmEmail); n != 0 {
		t.Errorf("confirmations sent = %d, want 0", n)
	}
	// Wrong passwords count against the account lock first (1 so far; a
	// missing one guesses nothing and is not counted).
	for i := range 9 {
		e.askEmailChange(ada.Session.Token, "new@example.com", fmt.Sprintf("wrong %d", i)).
			wantProblem(t, http.StatusForbidden, "invalid_credentials")
	}
	e.askEmailChange(ada.Session.Token, "new@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
}

// TestEmailChangeWithoutPassword: a user without a password (signed up
// through a provider) changes the address without one.
func TestEmailChangeWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", "")
	token := e.mustChangeToken(e.seedSession(id), "ada@new.example", "")
	e.confirmEmail(token).wantStatus(t, http.StatusOK)
	if got := e.currentEmail(id); got != "ada@new.example" {
		t.Errorf("email = %q, want ada@new.example", got)
	}
}

// TestEmailChangeToTakenAddress: the same 202, nothing changes, and the
// taken address gets an account-exists notice instead of a link.
func TestEmailChangeToTakenAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.seedUser("bob@example.com", "")
	r := e.askEmailChange(ada.Session.Token, "BOB@example.com", goodPassword)
	r.wantStatus(t, http.StatusAccepted)
	if got, want := string(r.Body), `{"status":"email_change_sent"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	m := e.mailTo("bob@example.com")
	if m.Subject != mail.SubjectEmailInUse || strings.Contains(m.Text, "/confirm-email") {
		t.Errorf("mail to the taken address %q %q, want the account-exists notice without a link", m.Subject, m.Text)
	}
	var tokens int
	if err := e.pool.QueryRow(t.Context(), "SELECT count(*) FROM verification_tokens WHERE purpose = 'change_email'").Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 0 || e.currentEmail(ada.User.ID) != "ada@example.com" {
		t.Errorf("change tokens = %d, email %q: want none and the old email", tokens, e.currentEmail(ada.User.ID))
	}
}

// TestEmailChangeNewRequestVoidsEarlier: of two requests, only the newer
// one's link works.
func TestEmailChangeNewRequestVoidsEarlier(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	first := e.mustChangeToken(ada.Session.Token, "one@example.com", goodPassword)
	second := e.mustChangeToken(ada.Session.Token, "two@example.com", goodPassword)
	e.confirmEmail(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// A third request, whose mail must wait for the one-a-minute limit of
	// its address, voids the second link at once.
	e.askEmailChange(ada.Session.Token, "two@example.com", goodPassword).wantStatus(t, http.StatusAccepted)
	if n := e.countSubjectTo("two@example.com", mail.SubjectConfirmEmail); n != 1 {
		t.Fatalf("confirmations to two@ within the minute = %d, want 1", n)
	}
	e.confirmEmail(second).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.clock.Advance(time.Minute)
	e.runDelayed()
	third := linkToken(t, e.mailTo("two@example.com"), "/confirm-email")
	e.confirmEmail(third).wantStatus(t, http.StatusOK)
	if got := e.currentEmail(ada.User.ID); got != "two@example.com" {
		t.Errorf("email = %q, want two@example.com", got)
	}
}

// TestEmailChangeDeletesPendingRegistration: a pending registration for
// the new address (someone else's) is deleted with its tokens.
func TestEmailChangeDeletesPendingRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	pending := e.seedPending("new@example.com")
	e.confirmEmail(token).wantStatus(t, http.StatusOK)
	var n int
	if err := e.pool.QueryRow(t.Context(), "SELECT count(*) FROM preregistrations").Scan(&n); err != nil || n != 0 {
		t.Errorf("preregistrations = %d (%v), want 0", n, err)
	}
	e.verify(pending).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if n := e.countUsers("new@example.com"); n != 1 {
		t.Errorf("users with the new address = %d, want 1", n)
	}
}

// TestEmailChangeConflict: an address taken between the request and the
// confirmation answers 409 and changes nothing.
func TestEmailChangeConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	e.seedUser("NEW@example.com", "")
	e.confirmEmail(token).wantProblem(t, http.StatusConflict, "conflict")
	if got := e.currentEmail(ada.User.ID); got != "ada@example.com" {
		t.Errorf("email = %q, want the old one", got)
	}
}

func TestEmailChangeExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.VerifyTTL = time.Hour })
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	if m := e.mailTo("new@example.com"); !strings.Contains(m.Text, "expires in 1 hour") {
		t.Errorf("confirmation %q: want 1 hour", m.Text)
	}
	e.clock.Advance(time.Hour + time.Second)
	e.confirmEmail(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
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

// TestEmailChangeDeactivated: a deactivated user's confirmation is refused.
func TestEmailChangeDeactivated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	e.exec("UPDATE users SET is_active = false WHERE id = $1", ada.User.ID)
	e.confirmEmail(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if got := e.currentEmail(ada.User.ID); got != "ada@example.com" {
		t.Errorf("email = %q, want the old one", got)
	}
}

// TestEmailChangeKeepsLoginLock: failed sign-ins on the old address follow
// the account to the new one, so a change never lifts a lock.
func TestEmailChangeKeepsLoginLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	e.lockOut("ada@example.com")
	e.confirmEmail(token).wantStatus(t, http.StatusOK)
	e.login("new@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	e.clock.Advance(16 * time.Minute)
	e.mustLogin("new@example.com", goodPassword)
}

// TestTokenPurposes: each token works only for its own purpose, and a
// failed attempt with the wrong purpose does not use it up.
func TestTokenPurposes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Pat", "pat@example.com", goodPassword)
	verifyTok := verifyToken(t, e.mailTo("pat@example.com"))
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	magicTok := e.mustMagicToken("ada@example.com")
	resetTok := e.mustResetToken("ada@example.com")
	changeTok := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)

	paths := map[string]string{
		"verify": "/v1/auth/verify-email", "magic": "/v1/auth/magic-link/verify", "confirm": "/v1/auth/email/confirm",
	}
	for _, tt := range []struct{ token, kind, path string }{
		{magicTok, "magic", "verify"}, {magicTok, "magic", "confirm"},
		{verifyTok, "verification", "magic"}, {verifyTok, "verification", "confirm"},
		{changeTok, "change", "magic"}, {changeTok, "change", "verify"},
		{resetTok, "reset", "magic"}, {resetTok, "reset", "confirm"},
	} {
		t.Run(tt.kind+" at "+tt.path, func(t *testing.T) {
			e.do(req{method: "POST", path: paths[tt.path], body: map[string]string{"token": tt.token}}).
				wantProblem(t, http.StatusBadRequest, "invalid_token")
		})
	}
	e.resetPassword(magicTok, newPassword).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.resetPassword(changeTok, newPassword).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// Each still works for its own purpose.
	e.verify(verifyTok).wantStatus(t, http.StatusCreated)
	e.verifyMagic(magicTok).wantStatus(t, http.StatusOK)
	e.confirmEmail(changeTok).wantStatus(t, http.StatusOK)
}

// TestEmailConfirmRace: two confirmations of one token at once, queued on
// the address's lock: one 200, one 400.
func TestEmailConfirmRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustChangeToken(ada.Session.Token, "new@example.com", goodPassword)
	release := holdLock(t, e.pool, "hashtextextended('email:' || lower($1::text), 0)", "ada@example.com")
	statuses := make([]int, 2)
	bodies := make([][]byte, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			statuses[i], bodies[i] = e.send(req{method: "POST", path: "/v1/auth/email/confirm",
				body: map[string]string{"token": token}})
		})
	}
	waitUntil(t, "both confirmations wait for the address", func() bool { return waiting(t, e.pool, "advisory") == 2 })
	release()
	wg.Wait()
	ok, bad := 0, 0
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
			bad++
		default:
			t.Errorf("confirmation %d answered %d %s", i, s, bodies[i])
		}
	}
	if ok != 1 || bad != 1 {
		t.Errorf("answers %v, want one 200 and one 400", statuses)
	}
	if n := e.countSubjectTo("ada@example.com", mail.SubjectEmailChanged); n != 1 {
		t.Errorf("changed notices = %d, want 1", n)
	}
}

// TestEmailConfirmRacesRegistration runs a confirmation, a registration
// and a verification for one address at once, many times, without
// arranging the order: no 500, at most one account with the address, and
// never both the change and the new account.
func TestEmailConfirmRacesRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.RateLimits = false })
	ada := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	for round := range 8 {
		email := fmt.Sprintf("round%d@example.com", round)
		change := e.mustChangeToken(ada.Session.Token, email, goodPassword)
		pending := e.seedPending(email)
		statuses := make([]int, 3)
		bodies := make([][]byte, 3)
		var wg sync.WaitGroup
		wg.Go(func() {
			statuses[0], bodies[0] = e.send(req{method: "POST", path: "/v1/auth/email/confirm",
				body: map[string]string{"token": change}})
		})
		wg.Go(func() {
			statuses[1], bodies[1] = e.send(req{method: "POST", path: "/v1/auth/verify-email",
				body: map[string]string{"token": pending}})
		})
		wg.Go(func() {
			statuses[2], bodies[2] = e.send(req{method: "POST", path: "/v1/auth/register",
				body: map[string]string{"name": "Mallory", "email": email, "password": newPassword}})
		})
		wg.Wait()
		for i, s := range statuses {
			if s >= 500 || s == 0 {
				t.Fatalf("round %d: request %d answered %d %s", round, i, s, bodies[i])
			}
		}
		if n := e.countUsers(email); n != 1 && !(n == 0 && statuses[0] != http.StatusOK) {
			t.Errorf("round %d: %d accounts with %s (answers %v)", round, n, email, statuses)
		}
		if statuses[0] == http.StatusOK && statuses[1] == http.StatusCreated {
			t.Errorf("round %d: both the change and the new account succeeded", round)
		}
		if statuses[0] != http.StatusOK && statuses[0] != http.StatusConflict && statuses[0] != http.StatusBadRequest {
			t.Errorf("round %d: confirmation answered %d %s", round, statuses[0], bodies[0])
		}
	}
}
