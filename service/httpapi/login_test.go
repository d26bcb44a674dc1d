package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/service"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	signedUp := e.mustSignUp("Ada", "ada@example.com", goodPassword)

	r := e.login("  ADA@Example.com ", goodPassword)
	r.wantStatus(t, http.StatusOK)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	var res authResult
	r.JSON(t, &res)
	if res.User.ID != signedUp.User.ID || res.User.Email != "ada@example.com" || !res.User.HasPassword {
		t.Errorf("user = %+v, want ada@example.com with a password", res.User)
	}
	cookie := r.Header.Get("Set-Cookie")
	for _, want := range []string{"session=" + res.Session.Token, "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie = %q, want it to contain %q", cookie, want)
		}
	}

	// Every sign-in gets a new session; the earlier ones stay valid.
	again := e.mustLogin("ada@example.com", goodPassword)
	if again.Session.Token == res.Session.Token || res.Session.Token == signedUp.Session.Token {
		t.Error("a sign-in reused a session token")
	}
	for _, tok := range []string{signedUp.Session.Token, res.Session.Token, again.Session.Token} {
		e.do(req{method: "GET", path: "/v1/me", token: tok}).wantStatus(t, http.StatusOK)
	}
	if n := e.countEvents(res.User.ID, "login_success"); n != 2 {
		t.Errorf("login_success events = %d, want 2", n)
	}

	// The password is checked exactly as sent.
	for _, pw := range []string{" " + goodPassword, goodPassword + " ", strings.ToUpper(goodPassword)} {
		e.login("ada@example.com", pw).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	}
}

func TestLoginRefusesBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		name   string
		body   any
		header map[string]string
		status int
		code   string
	}{
		{"unknown field", `{"email":"a@example.com","password":"x","role":"admin"}`, nil, 400, "invalid_json"},
		{"not an object", `["a@example.com"]`, nil, 400, "invalid_json"},
		{"wrong type", `{"email":1,"password":"x"}`, nil, 400, "invalid_json"},
		{"trailing data", `{"email":"a@example.com","password":"x"}{}`, nil, 400, "invalid_json"},
		{"no content type", `{"email":"a@example.com","password":"x"}`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/v1/auth/login", body: tt.body, header: tt.header})
			r.wantProblem(t, tt.status, tt.code)
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// Every failed sign-in answers the same body at the same cost: one hash.
func TestLoginFailuresAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.seedUser("oauth@example.com", "")
	counted, hashes := e.hashCounting()

	var first []byte
	for _, tt := range []struct{ name, email, password string }{
		{"wrong password", "ada@example.com", "not the password at all"},
		{"unknown email", "nobody@example.com", goodPassword},
		{"no password", "oauth@example.com", goodPassword},
		{"malformed email", "not an email", goodPassword},
		{"empty fields", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := hashes.Load()
			r := counted.login(tt.email, tt.password)
			r.wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			if got := hashes.Load() - before; got != 1 {
				t.Errorf("hashes = %d, want 1", got)
			}
			if r.Header.Get("Set-Cookie") != "" {
				t.Errorf("Set-Cookie = %q, want none", r.Header.Get("Set-Cookie"))
			}
			if first == nil {
				first = r.Body
			} else if !bytes.Equal(r.Body, first) {
				t.Errorf("body = %s, want the same as the first failure's %s", r.Body, first)
			}
		})
	}
	before := hashes.Load()
	counted.mustLogin("ada@example.com", goodPassword)
	if got := hashes.Load() - before; got != 1 {
		t.Errorf("hashes for a successful sign-in = %d, want 1", got)
	}
}

func TestLoginDisabledAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.mustSignUp("Ada", "ada@example.com", goodPassword)
	if _, err := e.pool.Exec(t.Context(), "UPDATE users SET is_active = false WHERE id = $1", res.User.ID); err != nil {
		t.Fatal(err)
	}
	// A wrong password does not reveal that the account is disabled.
	e.login("ada@example.com", "wrong password here").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	r := e.login("ada@example.com", goodPassword)
	r.wantProblem(t, http.StatusForbidden, "account_disabled")
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("Set-Cookie = %q, want none", r.Header.Get("Set-Cookie"))
	}
}

// outdatedArgon2 hashes pw with cheaper argon2id parameters than the current ones.
func outdatedArgon2(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, 1, 8192, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
}

func mustBcrypt(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestLoginUpgradesOutdatedHashes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		name string
		hash string
	}{
		{"bcrypt", mustBcrypt(t, goodPassword)},
		{"argon2id with outdated parameters", outdatedArgon2(goodPassword)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			email := strings.ReplaceAll(tt.name, " ", "-") + "@example.com"
			id := e.seedUser(email, tt.hash)
			e.login(email, "wrong password here").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			if got := e.storedHash(id); got != tt.hash {
				t.Fatalf("a failed sign-in changed the hash to %q", got)
			}
			e.mustLogin(email, goodPassword)
			got := e.storedHash(id)
			if !strings.HasPrefix(got, "$argon2id$v=19$m=19456,t=2,p=1$") {
				t.Fatalf("stored hash = %q, want current argon2id", got)
			}
			if !passwordMatches(t, goodPassword, got) {
				t.Fatal("the upgraded hash does not match the password")
			}
			e.mustLogin(email, goodPassword)
			if again := e.storedHash(id); again != got {
				t.Errorf("a current hash was rehashed again")
			}
		})
	}
}

// bcrypt reads only 72 bytes; a longer password must not match on its prefix.
func TestLoginBcrypt72Bytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pw72 := strings.Repeat("0123456789abcdef", 5)[:72]
	id := e.seedUser("legacy@example.com", mustBcrypt(t, pw72))
	e.login("legacy@example.com", pw72+"X").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	e.login("legacy@example.com", pw72[:71]).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	e.mustLogin("legacy@example.com", pw72)
	if got := e.storedHash(id); !strings.HasPrefix(got, "$argon2id$") {
		t.Errorf("stored hash = %q, want argon2id", got)
	}
	// After the upgrade the whole password counts, beyond 72 bytes too.
	e.login("legacy@example.com", pw72+"X").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
}

// lockOut fails 10 sign-ins on email, each from another claimed address.
func (e *env) lockOut(email string) {
	e.t.Helper()
	for i := range 10 {
		e.login(email, fmt.Sprintf("wrong password %d", i), map[string]string{
			"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1),
		}).wantProblem(e.t, http.StatusUnauthorized, "invalid_credentials")
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)

	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			e.lockOut(email)
			// Locked for everyone, whatever the address, even with the right password.
			r := e.login(strings.ToUpper(email), goodPassword, map[string]string{"X-Forwarded-For": "198.51.100.7"})
			r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
			wantRetryAfter(t, r, 15*time.Minute)
		})
	}
	// The unknown email answers exactly like the known one.
	known := e.login("ada@example.com", goodPassword)
	unknown := e.login("nobody@example.com", goodPassword)
	if !bytes.Equal(known.Body, unknown.Body) || known.Status != unknown.Status {
		t.Errorf("locked answers differ: %d %s and %d %s", known.Status, known.Body, unknown.Status, unknown.Body)
	}

	e.clock.Advance(16 * time.Minute)
	e.mustLogin("ada@example.com", goodPassword)

	// A success resets the count: 9 more failures do not lock.
	for range 9 {
		e.login("ada@example.com", "wrong password").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	}
	e.mustLogin("ada@example.com", goodPassword)
}

func TestLoginThrottleSharedByInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	other := e.instance(nil)
	servers := []*env{e, other}
	for i := range 10 {
		servers[i%2].login("ada@example.com", "wrong password").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
	}
	for _, s := range servers {
		s.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	}
}

func TestResetWorksWhileLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.lockOut("ada@example.com")
	e.login("ada@example.com", goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")

	token := e.mustResetToken("ada@example.com")
	e.resetPassword(token, "a brand new passphrase").wantStatus(t, http.StatusNoContent)
	// The reset lifts the lock.
	e.mustLogin("ada@example.com", "a brand new passphrase")
}

func TestPerAddressThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 100 {
		e.do(req{method: "POST", path: "/v1/auth/password/forgot",
			body: map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i)}}).wantStatus(t, http.StatusAccepted)
	}
	r := e.do(req{method: "POST", path: "/v1/auth/password/forgot", body: map[string]string{"email": "x@example.com"}})
	r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
	wantRetryAfter(t, r, 5*time.Minute)
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	// Each route has its own budget.
	e.login("nobody@example.com", goodPassword).wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
}

func TestLoginMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Ada", "ada@example.com", goodPassword)
	e.mustLogin("ada@example.com", goodPassword)
	e.login("ada@example.com", "wrong password").wantStatus(t, http.StatusUnauthorized)
	e.login("nobody@example.com", "wrong password").wantStatus(t, http.StatusUnauthorized)

	res, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`nextsecure_logins_total{outcome="success"} 1`,
		`nextsecure_logins_total{outcome="invalid_credentials"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestLoginRacesAccountChanges deactivates or deletes the user while its
// password is being checked: the sign-in then fails as it would have a
// moment later, and writes nothing (no session, no success event, the
// failed sign-in count kept).
func TestLoginRacesAccountChanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change string
		status int
		code   string
	}{
		{"deactivated", `UPDATE users SET is_active = false WHERE id = $1`, http.StatusForbidden, "account_disabled"},
		{"deleted", `DELETE FROM users WHERE id = $1`, http.StatusUnauthorized, "invalid_credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			signedUp := e.mustSignUp("Ada", "ada@example.com", goodPassword)
			id := signedUp.User.ID
			ctx := context.Background()
			// One failed attempt, so there is a count a success would lift.
			e.login("ada@example.com", "wrong password, surely").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")
			racing := e.instance(func(svc *service.Service) {
				// OnWait runs once the password hash has a slot, after the
				// account was read and before the password is checked.
				svc.HashLimiter().OnWait = func(time.Duration) {
					if _, err := e.pool.Exec(ctx, tc.change, id); err != nil {
						t.Error(err)
					}
				}
			})
			racing.login("ada@example.com", goodPassword).wantProblem(t, tc.status, tc.code)

			var sessions, successes, counts int
			if err := e.pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM sessions WHERE user_id = $1),
				(SELECT count(*) FROM auth_events WHERE user_id = $1 AND type = 'login_success'),
				(SELECT count(*) FROM rate_limits WHERE key = 'login:ada@example.com')`, id).
				Scan(&sessions, &successes, &counts); err != nil {
				t.Fatal(err)
			}
			wantSessions := 1 // the sign-up's
			if tc.name == "deleted" {
				wantSessions = 0
			}
			if sessions != wantSessions || successes != 0 || counts != 1 {
				t.Errorf("sessions, login_success events, failed-login counters = %d, %d, %d; want %d, 0, 1",
					sessions, successes, counts, wantSessions)
			}
		})
	}
}
