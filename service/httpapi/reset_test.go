package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/mail"
)

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	b := e.mustLogin("ada@example.com", goodPassword)

	token := e.mustResetToken("ADA@example.com")
	if len(token) < 43 {
		t.Fatalf("token %q carries fewer than 256 bits", token)
	}

	// A refused password leaves the token usable.
	p := e.resetPassword(token, "short").wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != "password" || p.Errors[0].Code != "too_short" {
		t.Errorf("errors = %+v, want one too_short for password", p.Errors)
	}
	e.resetPassword(token, "password").wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")

	r := e.resetPassword(token, "a brand new passphrase")
	r.wantStatus(t, http.StatusNoContent)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	// Every session is revoked.
	for _, tok := range []string{a.Session.Token, b.Session.Token} {
		e.do(req{method: "GET", path: "/v1/me", token: tok}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	}
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	e.mustLogin("ada@example.com", "a brand new passphrase")

	// Single use.
	e.resetPassword(token, "yet another passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	if n := e.countSubjectTo("ada@example.com", mail.SubjectPasswordChanged); n != 1 {
		t.Errorf("password changed notices = %d, want 1", n)
	}
	if n := e.countEvents(a.User.ID, "password_reset"); n != 1 {
		t.Errorf("password_reset events = %d, want 1", n)
	}
}

func TestForgotPasswordAnswersAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.register("Pending", "pending@example.com", goodPassword)

	for _, email := range []string{"nobody@example.com", "not an email", "", "pending@example.com", "ada@example.com"} {
		e.forgot(email) // each requires the same 202 and body
	}
	if n := e.countSubjectTo("nobody@example.com", mail.SubjectResetPassword); n != 0 {
		t.Errorf("reset mails to an unknown address = %d, want 0", n)
	}
	if n := e.countSubjectTo("pending@example.com", mail.SubjectResetPassword); n != 0 {
		t.Errorf("reset mails to a pending registration = %d, want 0", n)
	}
	if n := e.countSubjectTo("ada@example.com", mail.SubjectResetPassword); n != 1 {
		t.Errorf("reset mails to the account = %d, want 1", n)
	}
	first := resetToken(t, e.mailTo("ada@example.com"))

	// Within a minute: the second mail waits; nothing more is sent yet.
	e.forgot("ada@example.com")
	if n := e.countSubjectTo("ada@example.com", mail.SubjectResetPassword); n != 1 {
		t.Errorf("reset mails within a minute = %d, want 1", n)
	}
	// When the minute has passed it goes out (delayed, not dropped): a new
	// link, and the earlier one is void.
	e.clock.Advance(61 * time.Second)
	e.runDelayed()
	if n := e.countSubjectTo("ada@example.com", mail.SubjectResetPassword); n != 2 {
		t.Fatalf("reset mails after the minute = %d, want 2", n)
	}
	second := resetToken(t, e.mailTo("ada@example.com"))
	if second == first {
		t.Fatal("the second reset reused the first token")
	}
	e.resetPassword(first, "a brand new passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.resetPassword(second, "a brand new passphrase").wantStatus(t, http.StatusNoContent)
}

func TestResetTokenPurposeBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Ada", "ada@example.com", goodPassword)
	verifyTok := verifyToken(t, e.mailTo("ada@example.com"))
	// A verification token is no reset token, and trying does not use it up.
	e.resetPassword(verifyTok, "a brand new passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.verify(verifyTok).wantStatus(t, http.StatusCreated)

	resetTok := e.mustResetToken("ada@example.com")
	e.verify(resetTok).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.resetPassword(resetTok, "a brand new passphrase").wantStatus(t, http.StatusNoContent)

	for _, tok := range []string{"", "nonsense", resetTok} {
		e.resetPassword(tok, "a brand new passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	}
}

func TestResetTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	token := e.mustResetToken("ada@example.com")
	e.clock.Advance(61 * time.Minute)
	e.resetPassword(token, "a brand new passphrase").wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.mustLogin("ada@example.com", goodPassword)
}

// A user who signed up through a provider gets a first password by reset.
func TestResetGivesPasswordToProviderUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("oauth@example.com", "")
	e.seedAccount(id, "github")
	session := e.seedSession(id)

	e.resetPassword(e.mustResetToken("oauth@example.com"), "a brand new passphrase").wantStatus(t, http.StatusNoContent)
	e.do(req{method: "GET", path: "/v1/me", token: session}).wantProblem(t, http.StatusUnauthorized, "unauthenticated")
	res := e.mustLogin("oauth@example.com", "a brand new passphrase")
	if !res.User.HasPassword {
		t.Error("hasPassword = false, want true")
	}
}
