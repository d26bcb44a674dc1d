package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/smtptest"
)

const goodPassword = "correct horse battery staple"

type authResult struct {
	User struct {
		ID            string  `json:"id"`
		Name          *string `json:"name"`
		Email         string  `json:"email"`
		EmailVerified *string `json:"emailVerified"`
		IsActive      bool    `json:"isActive"`
		Role          string  `json:"role"`
		HasPassword   bool    `json:"hasPassword"`
	} `json:"user"`
	Session struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expiresAt"`
	} `json:"session"`
}

// register posts a registration and requires the contract's 202.
func (e *env) register(name, email, password string) {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/auth/register",
		body: map[string]string{"name": name, "email": email, "password": password}})
	r.wantStatus(e.t, http.StatusAccepted)
	if got, want := string(r.Body), `{"status":"verification_email_sent"}`+"\n"; got != want {
		e.t.Fatalf("register body = %q, want %q", got, want)
	}
}

// verifyLink extracts the token of the verification link in m.
func verifyToken(t *testing.T, m smtptest.Message) string {
	t.Helper()
	link := m.FindLink(baseURL + "/verify-email?token=")
	if link == "" {
		t.Fatalf("no verification link in mail %q", m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// verify posts a token and returns the response.
func (e *env) verify(token string) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/auth/verify-email", body: map[string]string{"token": token}})
}

// mustSignUp registers and verifies an account and returns its session token.
func (e *env) mustSignUp(name, email, password string) authResult {
	e.t.Helper()
	e.register(name, email, password)
	r := e.verify(verifyToken(e.t, e.mailTo(email)))
	r.wantStatus(e.t, http.StatusCreated)
	var res authResult
	r.JSON(e.t, &res)
	return res
}

func TestRegisterVerifyFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("  Ada Lovelace ", "Ada@Example.com ", goodPassword)

	m := e.mailTo("ada@example.com")
	if m.Subject == "" || !strings.Contains(m.Text, "Ada Lovelace") {
		t.Errorf("mail subject %q text %q: want a subject and the name", m.Subject, m.Text)
	}
	token := verifyToken(t, m)
	if len(token) < 43 {
		t.Fatalf("token %q carries fewer than 256 bits", token)
	}
	if strings.Contains(e.logs.String(), token) {
		t.Error("the raw token appears in the logs")
	}

	r := e.verify(token)
	r.wantStatus(t, http.StatusCreated)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.Header.Get("Cache-Control"))
	}
	var res authResult
	r.JSON(t, &res)
	if res.User.Email != "ada@example.com" || res.User.Name == nil || *res.User.Name != "Ada Lovelace" ||
		!res.User.IsActive || res.User.EmailVerified == nil || res.User.Role != "user" || !res.User.HasPassword {
		t.Errorf("user = %+v, want ada@example.com, Ada Lovelace, active, verified, role user, with password", res.User)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "session="+res.Session.Token) {
		t.Errorf("Set-Cookie = %q, want the session", r.Header.Get("Set-Cookie"))
	}

	me := e.do(req{method: "GET", path: "/v1/me", token: res.Session.Token})
	me.wantStatus(t, http.StatusOK)

	// The token is single use.
	e.verify(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// And the pending registration is gone.
	var n int
	if err := e.pool.QueryRow(t.Context(), "SELECT count(*) FROM preregistrations").Scan(&n); err != nil || n != 0 {
		t.Errorf("preregistrations = %d (%v), want 0", n, err)
	}
}
