package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/smtptest"
	"github.com/nextsecure/nextsecure/service"
)

// login posts a sign-in and returns the response; extra headers are optional.
func (e *env) login(email, password string, header ...map[string]string) *response {
	e.t.Helper()
	r := req{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": email, "password": password}}
	if len(header) > 0 {
		r.header = header[0]
	}
	return e.do(r)
}

// mustLogin signs in and requires a 200.
func (e *env) mustLogin(email, password string) authResult {
	e.t.Helper()
	r := e.login(email, password)
	r.wantStatus(e.t, http.StatusOK)
	var res authResult
	r.JSON(e.t, &res)
	return res
}

// seedUser inserts an active, verified user directly, with a credential
// holding hash unless hash is "", and returns its id.
func (e *env) seedUser(email, hash string) string {
	e.t.Helper()
	ctx := context.Background()
	id := "seed-" + rand.Text()
	if _, err := e.pool.Exec(ctx, `INSERT INTO users (id, name, email, email_verified, is_active, role)
		VALUES ($1, 'Seeded', $2, now(), true, 'user')`, id, email); err != nil {
		e.t.Fatal(err)
	}
	if hash != "" {
		if _, err := e.pool.Exec(ctx, `INSERT INTO credentials (id, user_id, password_hash) VALUES ($1, $2, $3)`,
			"cred-"+rand.Text(), id, hash); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

// seedAccount links a provider account to a user directly.
func (e *env) seedAccount(userID, provider string) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO accounts (user_id, type, provider, provider_account_id)
		VALUES ($1, 'oauth', $2, $3)`, userID, provider, rand.Text()); err != nil {
		e.t.Fatal(err)
	}
}

// seedSession opens a session for a user directly (as an OAuth sign-in
// would) and returns its token.
func (e *env) seedSession(userID string) string {
	e.t.Helper()
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	now := e.clock.Now()
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)`, "sess-"+rand.Text(), userID, sum[:], now, now.Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	return token
}

// storedHash returns a user's password hash ("" if none).
func (e *env) storedHash(userID string) string {
	e.t.Helper()
	var hash string
	err := e.pool.QueryRow(context.Background(),
		`SELECT COALESCE((SELECT password_hash FROM credentials WHERE user_id = $1), '')`, userID).Scan(&hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return hash
}

// countEvents counts a user's audit events of one type.
func (e *env) countEvents(userID, typ string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM auth_events WHERE user_id = $1 AND type = $2`, userID, typ).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// forgot asks for a reset mail and requires the contract's 202.
func (e *env) forgot(email string) {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/v1/auth/password/forgot", body: map[string]string{"email": email}})
	r.wantStatus(e.t, http.StatusAccepted)
	if got, want := string(r.Body), `{"status":"password_reset_email_sent"}`+"\n"; got != want {
		e.t.Fatalf("forgot body = %q, want %q", got, want)
	}
}

// resetPassword posts a reset token and a new password.
func (e *env) resetPassword(token, password string) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: "/v1/auth/password/reset",
		body: map[string]string{"token": token, "password": password}})
}

// resetToken extracts the token of the reset link in m.
func resetToken(t *testing.T, m smtptest.Message) string {
	t.Helper()
	link := m.FindLink(baseURL + "/reset-password?token=")
	if link == "" {
		t.Fatalf("no reset link in mail %q (subject %q)", m.Text, m.Subject)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// mustResetToken requests a reset for email and returns the mailed token.
func (e *env) mustResetToken(email string) string {
	e.t.Helper()
	e.forgot(email)
	return resetToken(e.t, e.mailTo(email))
}

// countSubjectTo counts delivered messages to addr with subject.
func (e *env) countSubjectTo(addr, subject string) int {
	n := 0
	for _, m := range e.deliver() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) && m.Subject == subject {
				n++
			}
		}
	}
	return n
}

// instance starts another server instance (its own service and router) on
// the same database and clock, as a second replica would be. prepare, when
// given, sees the service before the server starts. The returned env shares
// everything else with e.
func (e *env) instance(prepare func(*service.Service)) *env {
	e.t.Helper()
	return e.instanceWith(nil, prepare)
}

// hashCounting starts an instance of e whose password hashes are counted.
func (e *env) hashCounting() (*env, *atomic.Int64) {
	var n atomic.Int64
	other := e.instance(func(svc *service.Service) {
		svc.HashLimiter().OnWait = func(time.Duration) { n.Add(1) }
	})
	return other, &n
}

// cookieHeader authenticates a request by the session cookie, with an
// optional Origin ("" sends none).
func cookieHeader(token, origin string) map[string]string {
	return map[string]string{"Cookie": "session=" + token, "Origin": origin}
}

// wantCookieCleared fails unless r expires the session cookie.
func wantCookieCleared(t *testing.T, r *response) {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "session" && c.Value == "" && c.MaxAge < 0 {
			return
		}
	}
	t.Errorf("Set-Cookie = %q, want the session cookie cleared", r.Header.Values("Set-Cookie"))
}

// wantRetryAfter fails unless r carries a Retry-After of 1 to max seconds.
func wantRetryAfter(t *testing.T, r *response, max time.Duration) {
	t.Helper()
	var secs int
	if _, err := fmt.Sscan(r.Header.Get("Retry-After"), &secs); err != nil || secs < 1 || secs > int(max.Seconds()) {
		t.Errorf("Retry-After = %q, want 1 to %v seconds", r.Header.Get("Retry-After"), max.Seconds())
	}
}
