package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/docs"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/password"
	"github.com/nextsecure/nextsecure/service"
	"github.com/nextsecure/nextsecure/service/httpapi"
)

// Tests of what happens between workflows (issue 9, Races and Sessions).

// newPassword is a new password the policy accepts.
const newPassword = "violet umbrella quantum ferry 47"

// instanceWith is instance with the service's settings changed by configure.
func (e *env) instanceWith(configure func(*service.Config), prepare func(*service.Service)) *env {
	e.t.Helper()
	cfg := service.DefaultConfig()
	cfg.BaseURL = baseURL
	if configure != nil {
		configure(&cfg)
	}
	logger := slog.New(httpapi.LogHandler{Handler: slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	svc := service.New(e.pool, cfg, e.clock.Now, logger)
	if prepare != nil {
		prepare(svc)
	}
	h := httpapi.New(svc, httpapi.Config{BaseURL: baseURL, SchemaVersion: migrate.Latest(), OpenAPI: docs.OpenAPI}, logger)
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	other := *e
	other.svc, other.srv = svc, srv
	return &other
}

// send performs r and returns its status and body; unlike do it never stops
// the test, so goroutines may call it (a transport error is status 0).
func (e *env) send(r req) (int, []byte) {
	var body io.Reader
	if r.body != nil {
		b, _ := json.Marshal(r.body)
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Error(err)
		return 0, nil
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Error(err)
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// seedPasswordUser inserts an active user whose password is pw and returns its id.
func (e *env) seedPasswordUser(email, pw string) string {
	e.t.Helper()
	h, err := password.Hash(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.seedUser(email, h)
}

// seedAdmin inserts an active admin with password pw and returns its id
// and a session token.
func (e *env) seedAdmin(email, pw string) (string, string) {
	e.t.Helper()
	id := e.seedPasswordUser(email, pw)
	e.exec("UPDATE users SET role = 'admin' WHERE id = $1", id)
	return id, e.seedSession(id)
}

func tokenHashHex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// seedResetToken stores a live password-reset token for a user, as
// forgot-password would, and returns it.
func (e *env) seedResetToken(userID, email string) string {
	e.t.Helper()
	token := rand.Text()
	e.exec(`INSERT INTO verification_tokens (identifier, token, expires, purpose, user_id)
		VALUES ($1, $2, $3, 'reset_password', $4)`, email, tokenHashHex(token), e.clock.Now().Add(time.Hour), userID)
	return token
}

// seedPending stores a pending registration for email with a live
// verification token, as registration would, and returns the token.
func (e *env) seedPending(email string) string {
	e.t.Helper()
	h, err := password.Hash(goodPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	id, token := "pre-"+rand.Text(), rand.Text()
	now := e.clock.Now()
	e.exec(`INSERT INTO preregistrations (id, full_name, email, password_hash, created_at, expires_at)
		VALUES ($1, 'Pending', $2, $3, $4, $5)`, id, email, h, now, now.Add(time.Hour))
	e.exec(`INSERT INTO verification_tokens (identifier, token, expires, purpose, preregistration_id)
		VALUES ($1, $2, $3, 'verify_email', $4)`, email, tokenHashHex(token), now.Add(time.Hour), id)
	return token
}

// liveSessions counts a user's sessions.
func (e *env) liveSessions(userID string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM sessions WHERE user_id = $1`, userID).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waiting counts the backends of this test's database that wait for a
// lock of one of the kinds (pg_stat_activity.wait_event: advisory,
// transactionid, tuple).
func waiting(t *testing.T, pool *pgxpool.Pool, kinds ...string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = ANY($1)`, kinds).
		Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitUntil polls cond until it holds, and fails the test after a minute.
// It waits for a state that must come, not for time to pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// holdLock takes a session-level advisory lock on its own connection and
// returns the function that releases it.
func holdLock(t *testing.T, pool *pgxpool.Pool, key string, args ...any) func() {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock("+key+")", args...); err != nil {
		conn.Release()
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock("+key+")", args...); err != nil {
				t.Error(err)
			}
			conn.Release()
		})
	}
	t.Cleanup(release)
	return release
}

// accountChange is a workflow that must end every sign-in that verified the
// password before it.
type accountChange struct {
	name string
	// prepare runs before the race and returns the change itself, which
	// answers a status.
	prepare func(e *env, id, email string) func() int
	// status and code are what a sign-in with the old password gets once
	// the change committed.
	status int
	code   string
	// keep is how many of the user's sessions survive the change.
	keep int
}

var accountChanges = []accountChange{
	{
		name: "password reset",
		prepare: func(e *env, id, email string) func() int {
			token := e.seedResetToken(id, email)
			return func() int {
				status, _ := e.send(req{method: "POST", path: "/v1/auth/password/reset",
					body: map[string]string{"token": token, "password": newPassword}})
				return status
			}
		},
		status: http.StatusUnauthorized, code: "invalid_credentials",
	},
	{
		name: "password change",
		prepare: func(e *env, id, email string) func() int {
			session := e.seedSession(id)
			return func() int {
				status, _ := e.send(req{method: "PUT", path: "/v1/me/password", token: session,
					body: map[string]string{"currentPassword": goodPassword, "newPassword": newPassword}})
				return status
			}
		},
		status: http.StatusUnauthorized, code: "invalid_credentials",
		keep: 1, // the session that changed it
	},
	{
		name: "deactivation",
		prepare: func(e *env, id, email string) func() int {
			_, admin := e.seedAdmin("admin-"+rand.Text()+"@example.com", goodPassword)
			return func() int {
				status, _ := e.send(patchUser(admin, id, map[string]any{"isActive": false}))
				return status
			}
		},
		status: http.StatusForbidden, code: "account_disabled",
	},
	{
		name: "deletion",
		prepare: func(e *env, id, email string) func() int {
			_, admin := e.seedAdmin("admin-"+rand.Text()+"@example.com", goodPassword)
			return func() int {
				status, _ := e.send(req{method: "DELETE", path: "/v1/admin/users/" + id, token: admin})
				return status
			}
		},
		status: http.StatusUnauthorized, code: "invalid_credentials",
	},
}

// TestLoginLosesRaceToAccountChange commits a password reset, a password
// change, a deactivation or a deletion after a sign-in read the old password hash and
// before it opens its session: the sign-in must fail and leave no session.
func TestLoginLosesRaceToAccountChange(t *testing.T) {
	t.Parallel()
	for _, tc := range accountChanges {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.seedPasswordUser("ada@example.com", goodPassword)
			change := tc.prepare(e, id, "ada@example.com")
			var once sync.Once
			racing := e.instance(func(svc *service.Service) {
				// OnWait runs once the password hash has a slot: after the
				// account and its hash were read, before the session opens.
				svc.HashLimiter().OnWait = func(time.Duration) {
					once.Do(func() {
						if got := change(); got >= 300 {
							t.Errorf("the change answered %d", got)
						}
					})
				}
			})
			racing.login("ada@example.com", goodPassword).wantProblem(t, tc.status, tc.code)
			if got := e.liveSessions(id); got != tc.keep {
				t.Errorf("sessions after the race = %d, want %d", got, tc.keep)
			}
			if got := e.countEvents(id, "login_success"); got != 0 {
				t.Errorf("login_success events = %d, want 0", got)
			}
		})
	}
}

// TestAccountChangeRevokesRacingLogin runs the other order: a sign-in has
// checked the account and is opening its session when the change starts.
// The change waits for the sign-in's transaction, then revokes the session
// it opened. A trigger holds the sign-in inside its transaction, right at
// the session insert, until the change is seen waiting.
func TestAccountChangeRevokesRacingLogin(t *testing.T) {
	t.Parallel()
	testChangeRevokesRacingSignIn(t, func(e *env, id string) req {
		return req{method: "POST", path: "/v1/auth/login",
			body: map[string]string{"email": "ada@example.com", "password": goodPassword}}
	})
}

// TestAccountChangeRevokesRacingMagicSignIn is TestAccountChangeRevokesRacingLogin
// for a sign-in without a password (a magic link; a provider sign-in opens
// its session under the same user-row lock). A reset and a change touch
// only the credential, not the user row the sign-in locks, so they must
// lock the user row before they revoke the sessions (LockUser).
func TestAccountChangeRevokesRacingMagicSignIn(t *testing.T) {
	t.Parallel()
	testChangeRevokesRacingSignIn(t, func(e *env, id string) req {
		magic := rand.Text()
		e.exec(`INSERT INTO verification_tokens (identifier, token, expires, purpose, user_id)
			VALUES ($1, $2, $3, 'magic_link', $4)`, "ada@example.com", tokenHashHex(magic), e.clock.Now().Add(time.Hour), id)
		return req{method: "POST", path: "/v1/auth/magic-link/verify", body: map[string]string{"token": magic}}
	})
}

// testChangeRevokesRacingSignIn runs every account change against the
// sign-in request that prepare makes for ada@example.com (user id), held
// at its session insert until the change is seen waiting.
func testChangeRevokesRacingSignIn(t *testing.T, prepare func(e *env, id string) req) {
	for _, tc := range accountChanges {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.seedPasswordUser("ada@example.com", goodPassword)
			change := tc.prepare(e, id, "ada@example.com")
			signIn := prepare(e, id)
			const holdKey = 4242
			e.exec(`CREATE FUNCTION hold_session_insert() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$`)
			e.exec(`CREATE TRIGGER hold BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION hold_session_insert()`)
			release := holdLock(t, e.pool, fmt.Sprint(holdKey))

			var signInStatus int
			var signInBody []byte
			var wg sync.WaitGroup
			wg.Go(func() { signInStatus, signInBody = e.send(signIn) })
			waitUntil(t, "the sign-in is opening its session", func() bool { return waiting(t, e.pool, "advisory") == 1 })

			var changeStatus atomic.Int64
			wg.Go(func() { changeStatus.Store(int64(change())) })
			// The change waits for the sign-in's row locks (without them it
			// would finish at once, before the session exists).
			waitUntil(t, "the change waits for the sign-in, or finished", func() bool {
				return changeStatus.Load() != 0 || waiting(t, e.pool, "transactionid", "tuple") > 0
			})
			release()
			wg.Wait()

			if got := changeStatus.Load(); got >= 300 {
				t.Fatalf("the change answered %d", got)
			}
			if signInStatus != http.StatusOK {
				t.Fatalf("sign-in answered %d %s, want 200", signInStatus, signInBody)
			}
			var res authResult
			if err := json.Unmarshal(signInBody, &res); err != nil {
				t.Fatal(err)
			}
			status, _ := e.send(req{method: "GET", path: "/v1/me", token: res.Session.Token})
			if status != http.StatusUnauthorized {
				t.Errorf("the racing sign-in's session answers %d, want 401 (revoked)", status)
			}
			if got := e.liveSessions(id); got != tc.keep {
				t.Errorf("sessions after the race = %d, want %d", got, tc.keep)
			}
		})
	}
}

// gatedInstance starts an instance whose password checks all wait at a gate
// (with a hashing slot each) until open is called; entered counts the
// requests that reached the gate.
func (e *env) gatedInstance() (inst *env, entered func() int, open func()) {
	gate := make(chan struct{})
	var n atomic.Int64
	inst = e.instanceWith(func(c *service.Config) { c.HashSlots, c.HashWait = 64, time.Minute }, func(svc *service.Service) {
		svc.HashLimiter().OnWait = func(time.Duration) {
			n.Add(1)
			<-gate
		}
	})
	var once sync.Once
	open = func() { once.Do(func() { close(gate) }) }
	e.t.Cleanup(open)
	return inst, func() int { return int(n.Load()) }, open
}

// TestLoginCountsBeforeChecking sends 60 concurrent sign-ins: the account's
// lock counts each before its password is checked, so 10 are checked (401)
// and the other 50 refused at once (429), and a right password arriving
// after the 10th does not sign in. Unknown emails are counted alike.
func TestLoginCountsBeforeChecking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		email      string
		rightAfter bool // the 60th is the right password, sent after the 59 others were counted
	}{
		{"wrong passwords", "ada@example.com", false},
		{"unknown email", "nobody@example.com", false},
		{"right password after the tenth", "ada@example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.seedPasswordUser("ada@example.com", goodPassword)
			inst, entered, open := e.gatedInstance()
			var (
				mu       sync.Mutex
				statuses = map[int]int{}
				done     atomic.Int64
				wg       sync.WaitGroup
			)
			attempt := func(pw string) int {
				status, _ := inst.send(req{method: "POST", path: "/v1/auth/login",
					body:   map[string]string{"email": tc.email, "password": pw},
					header: map[string]string{"X-Forwarded-For": "203.0.113." + fmt.Sprint(done.Load()%200+1)}})
				done.Add(1)
				mu.Lock()
				statuses[status]++
				mu.Unlock()
				return status
			}
			wrong := 60
			if tc.rightAfter {
				wrong = 59
			}
			for i := range wrong {
				wg.Go(func() { attempt(fmt.Sprintf("wrong password %d", i)) })
			}
			// Every request has been counted once it is held at the gate
			// or answered.
			waitUntil(t, "every attempt is counted", func() bool { return entered()+int(done.Load()) == wrong })
			var right int
			if tc.rightAfter {
				wg.Go(func() { right = attempt(goodPassword) })
				waitUntil(t, "the right password is counted", func() bool { return entered()+int(done.Load()) == 60 })
			}
			open()
			wg.Wait()
			if statuses[http.StatusUnauthorized] > 10 || statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != 60 {
				t.Errorf("statuses = %v, want at most 10 × 401 and the rest 429", statuses)
			}
			if tc.rightAfter {
				if right != http.StatusTooManyRequests {
					t.Errorf("the right password answered %d, want 429", right)
				}
				if got := e.liveSessions(id); got != 0 {
					t.Errorf("sessions = %d, want 0", got)
				}
			}
		})
	}
}

// TestReauthenticationCountsBeforeChecking sends 60 concurrent password
// changes and account deletions with a wrong current password: at most 10
// are checked (403) and the rest refused at once (429).
func TestReauthenticationCountsBeforeChecking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		path   string
		body   func(pw string) any
	}{
		{"change password", "PUT", "/v1/me/password", func(pw string) any {
			return map[string]string{"currentPassword": pw, "newPassword": newPassword}
		}},
		{"delete account", "DELETE", "/v1/me", func(pw string) any { return map[string]string{"password": pw} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := e.seedPasswordUser("ada@example.com", goodPassword)
			session := e.seedSession(id)
			inst, entered, open := e.gatedInstance()
			var (
				mu       sync.Mutex
				statuses = map[int]int{}
				done     atomic.Int64
				wg       sync.WaitGroup
			)
			for i := range 60 {
				wg.Go(func() {
					status, _ := inst.send(req{method: tc.method, path: tc.path, token: session,
						body: tc.body(fmt.Sprintf("wrong password %d", i))})
					done.Add(1)
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				})
			}
			waitUntil(t, "every attempt is counted", func() bool { return entered()+int(done.Load()) == 60 })
			open()
			wg.Wait()
			if statuses[http.StatusForbidden] > 10 || statuses[http.StatusForbidden]+statuses[http.StatusTooManyRequests] != 60 {
				t.Errorf("statuses = %v, want at most 10 × 403 and the rest 429", statuses)
			}
			if !passwordMatches(t, goodPassword, e.storedHash(id)) {
				t.Error("the password changed")
			}
		})
	}
}

// TestLastAdminCannotDeleteThemselves: DELETE /v1/me follows the admin
// routes' rule, under the same lock: the last active admin is refused
// (409), and of the last two deleting themselves at once, one is.
func TestLastAdminCannotDeleteThemselves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	deleteMe := func(token string) (int, []byte) {
		return e.send(req{method: "DELETE", path: "/v1/me", token: token,
			body: map[string]string{"password": goodPassword}})
	}

	id, token := e.seedAdmin("root@example.com", goodPassword)
	e.do(req{method: "DELETE", path: "/v1/me", token: token, body: map[string]string{"password": goodPassword}}).
		wantProblem(t, http.StatusConflict, "conflict")
	if got := e.liveSessions(id); got != 1 {
		t.Fatalf("the last admin's sessions = %d, want 1 (not deleted)", got)
	}
	// An inactive admin does not count as another one.
	other, _ := e.seedAdmin("inactive@example.com", goodPassword)
	e.exec("UPDATE users SET is_active = false WHERE id = $1", other)
	if status, body := deleteMe(token); status != http.StatusConflict {
		t.Fatalf("status = %d %s, want 409", status, body)
	}

	for round := range 5 {
		_, a := e.seedAdmin(fmt.Sprintf("a%d@example.com", round), goodPassword)
		_, b := e.seedAdmin(fmt.Sprintf("b%d@example.com", round), goodPassword)
		// Only a and b are active admins in this round.
		e.exec("UPDATE users SET is_active = false WHERE id = $1", id)
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, tok := range []string{a, b} {
			wg.Go(func() { statuses[i], _ = deleteMe(tok) })
		}
		wg.Wait()
		if !(statuses[0] == 204 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 204) {
			t.Fatalf("round %d: statuses = %v, want one 204 and one 409", round, statuses)
		}
		var admins int
		if err := e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM users WHERE role = 'admin' AND is_active`).Scan(&admins); err != nil {
			t.Fatal(err)
		}
		if admins != 1 {
			t.Fatalf("round %d: active admins = %d, want 1", round, admins)
		}
		// Make room for the next round: the survivor steps down.
		e.exec("UPDATE users SET is_active = false WHERE role = 'admin'")
	}
}

// TestVerifyRacesRegistration runs email verification against a
// registration or a resend for the same email, in the order that
// deadlocked when verification consumed its token before locking the email:
// the registration (or resend) holds the email's lock and is about to delete
// the pending registration's tokens, while the verification waits for the
// lock. Nobody gets a 500.
func TestVerifyRacesRegistration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		request req
	}{
		{"register", req{method: "POST", path: "/v1/auth/register",
			body: map[string]string{"name": "Mallory", "email": "ada@example.com", "password": newPassword}}},
		{"resend", req{method: "POST", path: "/v1/auth/resend-verification",
			body: map[string]string{"email": "ada@example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			token := e.seedPending("ada@example.com")
			// Hold the email's lock (as LockEmail takes it), so both
			// workflows queue for it: first the registration, then the
			// verification.
			release := holdLock(t, e.pool, "hashtextextended('email:' || lower($1::text), 0)", "ada@example.com")
			var regStatus, verifyStatus int
			var regBody, verifyBody []byte
			var wg sync.WaitGroup
			wg.Go(func() { regStatus, regBody = e.send(tc.request) })
			waitUntil(t, "the "+tc.name+" waits for the email", func() bool { return waiting(t, e.pool, "advisory") == 1 })
			wg.Go(func() {
				verifyStatus, verifyBody = e.send(req{method: "POST", path: "/v1/auth/verify-email",
					body: map[string]string{"token": token}})
			})
			waitUntil(t, "the verification waits for the email", func() bool { return waiting(t, e.pool, "advisory") == 2 })
			release()
			wg.Wait()
			if regStatus != http.StatusAccepted {
				t.Errorf("%s answered %d %s, want 202", tc.name, regStatus, regBody)
			}
			// The registration replaced (or the resend re-issued) what the
			// token belonged to before the verification got the lock.
			if verifyStatus != http.StatusBadRequest {
				t.Errorf("verification answered %d %s, want 400 invalid_token", verifyStatus, verifyBody)
			}
		})
	}
}

// TestVerifyRacesRegistrationFreely runs verification, registration and
// resend for one email at once, many times, without arranging the order:
// whatever the interleaving, no 500 and at most one account.
func TestVerifyRacesRegistrationFreely(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.RateLimits = false })
	for round := range 10 {
		email := fmt.Sprintf("round%d@example.com", round)
		token := e.seedPending(email)
		statuses := make([]int, 3)
		bodies := make([][]byte, 3)
		var wg sync.WaitGroup
		wg.Go(func() {
			statuses[0], bodies[0] = e.send(req{method: "POST", path: "/v1/auth/verify-email",
				body: map[string]string{"token": token}})
		})
		wg.Go(func() {
			statuses[1], bodies[1] = e.send(req{method: "POST", path: "/v1/auth/register",
				body: map[string]string{"name": "Mallory", "email": email, "password": newPassword}})
		})
		wg.Go(func() {
			statuses[2], bodies[2] = e.send(req{method: "POST", path: "/v1/auth/resend-verification",
				body: map[string]string{"email": email}})
		})
		wg.Wait()
		for i, s := range statuses {
			if s >= 500 || s == 0 {
				t.Fatalf("round %d: request %d answered %d %s", round, i, s, bodies[i])
			}
		}
	}
}

// TestSessionCookieFollowsSlidingExpiry: when a cookie-authenticated request
// slides the session's expiry, the response re-sets the cookie with the new
// expiry; requests that do not slide it, and bearer requests, set nothing.
func TestSessionCookieFollowsSlidingExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seedPasswordUser("ada@example.com", goodPassword)
	login := e.login("ada@example.com", goodPassword)
	login.wantStatus(t, http.StatusOK)
	start := e.clock.Now()
	c := sessionCookieOf(t, login)
	wantCookieExpiry(t, c, start.Add(720*time.Hour), 720*time.Hour)

	me := func() *response {
		return e.do(req{method: "GET", path: "/v1/me", header: cookieHeader(c.Value, "")})
	}
	// Within a minute of its last use, the session is not written: no cookie.
	e.clock.Advance(30 * time.Second)
	if r := me(); len(r.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("Set-Cookie = %q without a slide, want none", r.Header.Values("Set-Cookie"))
	}
	// Past a minute it slides, and so does the cookie.
	e.clock.Advance(2 * time.Hour)
	r := me()
	r.wantStatus(t, http.StatusOK)
	slid := sessionCookieOf(t, r)
	if slid.Value != c.Value {
		t.Errorf("re-set cookie holds another token")
	}
	wantCookieExpiry(t, slid, e.clock.Now().Add(720*time.Hour), 720*time.Hour)
	if !slid.HttpOnly || slid.SameSite != http.SameSiteLaxMode || slid.Path != "/" {
		t.Errorf("re-set cookie = %+v, want HttpOnly, SameSite=Lax, Path=/", slid)
	}
	// A bearer request slides the session but sets no cookie.
	e.clock.Advance(2 * time.Hour)
	if r := e.do(req{method: "GET", path: "/v1/me", token: c.Value}); len(r.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("Set-Cookie = %q on a bearer request, want none", r.Header.Values("Set-Cookie"))
	}
	// Past the first expiry, the session lives on while in use.
	e.clock.Advance(700 * time.Hour)
	me().wantStatus(t, http.StatusOK)
	// Signing out after a slide answers one Set-Cookie: the clearing one.
	e.clock.Advance(2 * time.Minute)
	r = e.do(req{method: "POST", path: "/v1/auth/logout", header: cookieHeader(c.Value, "")})
	r.wantStatus(t, http.StatusNoContent)
	if got := r.Header.Values("Set-Cookie"); len(got) != 1 {
		t.Errorf("Set-Cookie = %q, want only the clearing one", got)
	}
	wantCookieCleared(t, r)
}

// TestSessionMaxTTL: however active, a session ends SESSION_MAX_TTL after
// sign-in; its expiry never passes that, at creation or when it slides.
func TestSessionMaxTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.SessionTTL, c.SessionMaxTTL = 10*time.Hour, 25*time.Hour })
	e.seedPasswordUser("ada@example.com", goodPassword)
	start := e.clock.Now()
	c := sessionCookieOf(t, e.login("ada@example.com", goodPassword))
	wantCookieExpiry(t, c, start.Add(10*time.Hour), 10*time.Hour)
	me := func() *response {
		return e.do(req{method: "GET", path: "/v1/me", header: cookieHeader(c.Value, "")})
	}
	e.clock.Advance(9 * time.Hour)
	wantCookieExpiry(t, sessionCookieOf(t, me()), start.Add(19*time.Hour), 10*time.Hour)
	e.clock.Advance(9 * time.Hour) // 18h: would slide to 28h, capped at 25h
	wantCookieExpiry(t, sessionCookieOf(t, me()), start.Add(25*time.Hour), 7*time.Hour)
	e.clock.Advance(6*time.Hour + 59*time.Minute) // 24h59m: still in use, not extended
	r := me()
	r.wantStatus(t, http.StatusOK)
	if got := r.Header.Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie = %q at the cap, want none (the expiry did not move)", got)
	}
	e.clock.Advance(2 * time.Minute) // 25h01m
	me().wantProblem(t, http.StatusUnauthorized, "unauthenticated")

	// At creation too: a max TTL shorter than the TTL caps the first expiry.
	short := e.instanceWith(func(c *service.Config) { c.SessionTTL, c.SessionMaxTTL = 10*time.Hour, time.Hour }, nil)
	var res authResult
	r = short.login("ada@example.com", goodPassword)
	r.wantStatus(t, http.StatusOK)
	r.JSON(t, &res)
	if want := e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339); res.Session.ExpiresAt != want {
		t.Errorf("expiresAt = %s, want %s", res.Session.ExpiresAt, want)
	}
}

// sessionCookieOf returns the session cookie r sets, failing if none.
func sessionCookieOf(t *testing.T, r *response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("status %d, Set-Cookie = %q, want the session cookie", r.Status, r.Header.Values("Set-Cookie"))
	return nil
}

// wantCookieExpiry checks a cookie's Expires (to the second) and Max-Age.
func wantCookieExpiry(t *testing.T, c *http.Cookie, expires time.Time, maxAge time.Duration) {
	t.Helper()
	if !c.Expires.Equal(expires.Truncate(time.Second)) {
		t.Errorf("cookie Expires = %v, want %v", c.Expires, expires.UTC())
	}
	if c.MaxAge != int(maxAge/time.Second) {
		t.Errorf("cookie Max-Age = %d, want %d", c.MaxAge, int(maxAge/time.Second))
	}
}

// TestLoginSurvivesConcurrentRehash: two sign-ins with the right password on
// an outdated hash; the first upgrades the hash while the second is checking
// the old one. The second must still sign in (it checks again against the
// hash that is now current) and must not overwrite the upgrade.
func TestLoginSurvivesConcurrentRehash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.seedUser("ada@example.com", mustBcrypt(t, goodPassword))
	var once sync.Once
	racing := e.instance(func(svc *service.Service) {
		svc.HashLimiter().OnWait = func(time.Duration) {
			once.Do(func() {
				status, body := e.send(req{method: "POST", path: "/v1/auth/login",
					body: map[string]string{"email": "ada@example.com", "password": goodPassword}})
				if status != http.StatusOK {
					t.Errorf("the first sign-in answered %d %s", status, body)
				}
			})
		}
	})
	racing.mustLogin("ada@example.com", goodPassword)
	if got := e.liveSessions(id); got != 2 {
		t.Errorf("sessions = %d, want 2", got)
	}
	if got := e.storedHash(id); !strings.HasPrefix(got, "$argon2id$") || !passwordMatches(t, goodPassword, got) {
		t.Errorf("stored hash = %q, want a current argon2id hash of the password", got)
	}
}
