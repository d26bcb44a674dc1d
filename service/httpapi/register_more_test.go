package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/service"
)

// countRows counts a table's rows.
func (e *env) countRows(table string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestReRegistrationReplacesPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("First", "bob@example.com", "first password 111")
	first := verifyToken(t, e.mailTo("bob@example.com"))

	// Within the minute a second registration still replaces the pending
	// one and kills its link at once; its own mail waits for the minute.
	e.register("Second", "BOB@example.com", "second password 222")
	e.verify(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if n := e.countMailTo("bob@example.com"); n != 1 {
		t.Fatalf("mails within a minute = %d, want 1", n)
	}
	e.clock.Advance(61 * time.Second)
	e.runDelayed()
	if n := e.countMailTo("bob@example.com"); n != 2 {
		t.Fatalf("mails after the minute = %d, want 2 (the delayed one)", n)
	}
	second := verifyToken(t, e.mailTo("bob@example.com"))
	if second == first {
		t.Fatal("the second registration reused the first token")
	}
	r := e.verify(second)
	r.wantStatus(t, http.StatusCreated)
	var res authResult
	r.JSON(t, &res)
	if *res.User.Name != "Second" {
		t.Errorf("name = %q, want the second registration's", *res.User.Name)
	}
	assertPassword(t, e, "bob@example.com", "second password 222", true)
	assertPassword(t, e, "bob@example.com", "first password 111", false)
}

// TestRegistrationsWithinMinuteOneMail: two registrations for one address
// before any mail went out give exactly one mail, whose link is the second
// registration's; and when several mails wait for one address (held back
// by the limit), only the newest is sent.
func TestRegistrationsWithinMinuteOneMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.worker.Stop(context.Background()); err != nil { // queue both before either is sent
		t.Fatal(err)
	}
	e.register("First", "cy@example.com", "first password 111")
	e.register("Second", "cy@example.com", "second password 222")
	e.worker = e.startWorker(e.svc)
	if n := e.countMailTo("cy@example.com"); n != 1 {
		t.Fatalf("mails = %d, want exactly 1", n)
	}
	e.verify(verifyToken(t, e.mailTo("cy@example.com"))).wantStatus(t, http.StatusCreated)
	assertPassword(t, e, "cy@example.com", "second password 222", true)

	// Held back: a mail went to dee a moment ago; three more registrations
	// wait, and only the last one's mail goes out when the minute passed.
	e.register("Dee 1", "dee@example.com", "dee password 1111")
	firstDee := verifyToken(t, e.mailTo("dee@example.com"))
	for i := 2; i <= 4; i++ {
		e.register(fmt.Sprint("Dee ", i), "dee@example.com", fmt.Sprintf("dee password %d%d%d%d", i, i, i, i))
		e.deliver()
	}
	if n := e.countMailTo("dee@example.com"); n != 1 {
		t.Fatalf("mails to dee within the minute = %d, want 1", n)
	}
	e.clock.Advance(61 * time.Second)
	e.runDelayed()
	e.runDelayed() // any job still waiting would be sent now
	if n := e.countMailTo("dee@example.com"); n != 2 {
		t.Fatalf("mails to dee after the minute = %d, want 2", n)
	}
	e.verify(firstDee).wantProblem(t, http.StatusBadRequest, "invalid_token")
	r := e.verify(verifyToken(t, e.mailTo("dee@example.com")))
	r.wantStatus(t, http.StatusCreated)
	assertPassword(t, e, "dee@example.com", "dee password 4444", true)
}

// assertPassword checks whether password matches the stored credential.
func assertPassword(t *testing.T, e *env, email, password string, want bool) {
	t.Helper()
	var hash string
	err := e.pool.QueryRow(context.Background(),
		"SELECT c.password_hash FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.email = $1", email).Scan(&hash)
	if err != nil {
		t.Fatal(err)
	}
	if got := passwordMatches(t, password, hash); got != want {
		t.Errorf("password %q matches = %t, want %t", password, got, want)
	}
}

func TestPreHijackClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The attacker preregisters the victim's address with their password.
	e.register("Mallory", "victim@example.com", "attacker password 1")
	attackerMail := e.mailTo("victim@example.com") // lands in the victim's inbox, unused
	e.clock.Advance(2 * time.Minute)
	// The victim signs up and verifies.
	e.register("Victim", "victim@example.com", "victim password 22")
	res := e.verify(verifyToken(t, e.mailTo("victim@example.com")))
	res.wantStatus(t, http.StatusCreated)
	// The attacker's link is dead, and their password attaches nowhere.
	e.verify(verifyToken(t, attackerMail)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	assertPassword(t, e, "victim@example.com", "attacker password 1", false)
	assertPassword(t, e, "victim@example.com", "victim password 22", true)

	// A later registration of the existing email changes nothing and
	// only notifies the owner.
	e.clock.Advance(2 * time.Minute)
	before := e.countMailTo("victim@example.com")
	e.register("Mallory", "victim@example.com", "attacker password 3")
	if e.countRows("preregistrations") != 0 {
		t.Error("a registration for an existing account left a pending registration")
	}
	if got := e.countMailTo("victim@example.com"); got != before+1 {
		t.Errorf("mails = %d, want one notice more than %d", got, before)
	}
	notice := e.mailTo("victim@example.com")
	if notice.FindLink(baseURL+"/verify-email") != "" {
		t.Error("the notice carries a verification link")
	}
	assertPassword(t, e, "victim@example.com", "victim password 22", true)
	// At most one notice an hour.
	e.register("Mallory", "victim@example.com", "attacker password 4")
	if got := e.countMailTo("victim@example.com"); got != before+1 {
		t.Errorf("mails after a second attempt = %d, want %d", got, before+1)
	}
}

func TestRegisterAnswersAlike(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustSignUp("Existing", "existing@example.com", goodPassword)
	e.register("Pending", "pending@example.com", goodPassword)
	var bodies []string
	for _, email := range []string{"new@example.com", "pending@example.com", "existing@example.com"} {
		r := e.do(req{method: "POST", path: "/v1/auth/register",
			body: map[string]string{"name": "X", "email": email, "password": goodPassword}})
		r.wantStatus(t, http.StatusAccepted)
		bodies = append(bodies, string(r.Body))
		r = e.do(req{method: "POST", path: "/v1/auth/resend-verification", body: map[string]string{"email": email}})
		r.wantStatus(t, http.StatusAccepted)
		bodies = append(bodies, string(r.Body))
	}
	for i := 2; i < len(bodies); i++ {
		if bodies[i] != bodies[i%2] {
			t.Errorf("answer %d = %q, want %q like the new email's", i, bodies[i], bodies[i%2])
		}
	}
}

func TestResendVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Carol", "carol@example.com", goodPassword)
	first := verifyToken(t, e.mailTo("carol@example.com"))
	resend := func() {
		e.do(req{method: "POST", path: "/v1/auth/resend-verification",
			body: map[string]string{"email": "Carol@Example.com"}}).wantStatus(t, http.StatusAccepted)
	}
	resend() // within the minute: the mail is delayed, and the first link dies at once (API.md)
	if n := e.countMailTo("carol@example.com"); n != 1 {
		t.Fatalf("mails = %d, want 1", n)
	}
	e.verify(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.clock.Advance(time.Minute)
	resend() // joins the delayed one: one mail goes out
	e.runDelayed()
	if n := e.countMailTo("carol@example.com"); n != 2 {
		t.Fatalf("mails after the minute = %d, want 2", n)
	}
	second := verifyToken(t, e.mailTo("carol@example.com"))
	if first == second {
		t.Fatal("resend reused the token")
	}
	e.verify(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.verify(second).wantStatus(t, http.StatusCreated)
	// Unknown and malformed addresses get the same answer and no mail.
	for _, email := range []string{"nobody@example.com", "not an email", ""} {
		e.do(req{method: "POST", path: "/v1/auth/resend-verification",
			body: map[string]string{"email": email}}).wantStatus(t, http.StatusAccepted)
	}
	if got := len(e.deliver()); got != 2 {
		t.Errorf("total mails = %d, want 2", got)
	}
}

func TestVerificationExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Dan", "dan@example.com", goodPassword)
	token := verifyToken(t, e.mailTo("dan@example.com"))
	e.clock.Advance(24*time.Hour + time.Second)
	e.verify(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if e.countRows("users") != 0 {
		t.Fatal("an expired token created a user")
	}
	// Expired state never blocks a new registration, and the purge
	// removes what expired.
	if err := e.svc.Purge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.countRows("preregistrations") + e.countRows("verification_tokens"); n != 0 {
		t.Errorf("%d expired rows left after purge, want 0", n)
	}
	e.register("Dan", "dan@example.com", goodPassword)
	e.verify(verifyToken(t, e.mailTo("dan@example.com"))).wantStatus(t, http.StatusCreated)
}

func TestExpiredPreregistrationRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Eve", "eve@example.com", goodPassword)
	token := verifyToken(t, e.mailTo("eve@example.com"))
	// The registration expires even if its token were still live.
	if _, err := e.pool.Exec(context.Background(),
		"UPDATE preregistrations SET expires_at = $1", e.clock.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	e.verify(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
	if e.countRows("users") != 0 || e.countRows("preregistrations") != 0 {
		t.Fatal("an expired registration was verified or kept")
	}
}

func TestVerifyTokenPurposeBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Fay", "fay@example.com", goodPassword)
	token := verifyToken(t, e.mailTo("fay@example.com"))
	// Relabel the stored token as a reset token: verify must refuse it.
	if _, err := e.pool.Exec(context.Background(),
		"UPDATE verification_tokens SET purpose = 'reset_password'"); err != nil {
		t.Fatal(err)
	}
	e.verify(token).wantProblem(t, http.StatusBadRequest, "invalid_token")
}

func TestConcurrentVerificationCreatesOneUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register("Gil", "gil@example.com", goodPassword)
	token := verifyToken(t, e.mailTo("gil@example.com"))
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() { statuses[i] = e.verify(token).Status })
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
		default:
			t.Errorf("status %d, want 201 or 400", s)
		}
	}
	if created != 1 || e.countRows("users") != 1 || e.countRows("sessions") != 1 {
		t.Errorf("created %d, users %d, sessions %d; want 1 of each", created, e.countRows("users"), e.countRows("sessions"))
	}
}

func TestConcurrentRegistrationsOneEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.RateLimits = false })
	emails := []string{"hal@example.com", "HAL@example.com", "Hal@Example.com", "hal@EXAMPLE.COM"}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { e.register(fmt.Sprint("Hal ", i), emails[i%len(emails)], goodPassword) })
	}
	wg.Wait()
	if n := e.countRows("preregistrations"); n != 1 {
		t.Fatalf("preregistrations = %d, want 1", n)
	}
	// Tokens are issued when mails are sent; each voids the ones before.
	msgs := e.deliver()
	if n := e.countRows("verification_tokens"); n != 1 {
		t.Fatalf("live tokens = %d, want 1", n)
	}
	// Only the last mail's token works.
	ok := 0
	for _, m := range msgs {
		if e.verify(verifyToken(t, m)).Status == http.StatusCreated {
			ok++
		}
	}
	if ok != 1 || e.countRows("users") != 1 {
		t.Errorf("verified %d of %d mails, users %d; want exactly 1", ok, len(msgs), e.countRows("users"))
	}
}

func TestMailSurvivesSMTPOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.smtp.SetDown(true) // 451 to MAIL FROM
	e.register("Ivy", "ivy@example.com", goodPassword)
	if got := len(e.deliver()); got != 0 {
		t.Fatal("a message arrived while the server was down")
	}
	var state string
	var errs int
	if err := e.pool.QueryRow(context.Background(),
		"SELECT state, coalesce(array_length(errors, 1), 0) FROM river_job WHERE kind = 'verify_email'").Scan(&state, &errs); err != nil {
		t.Fatalf("the mail left the queue: %v", err)
	}
	if state == "completed" || state == "cancelled" || state == "discarded" || errs == 0 {
		t.Errorf("job state %s with %d errors; want waiting for a retry, with the cause", state, errs)
	}
	// When the server is back (and the retry is due) the mail arrives,
	// once, and its link works.
	e.smtp.SetDown(false)
	e.clock.Advance(time.Minute)
	if got := len(e.runDelayed()); got != 1 {
		t.Fatalf("messages after the outage = %d, want 1", got)
	}
	e.verify(verifyToken(t, e.mailTo("ivy@example.com"))).wantStatus(t, http.StatusCreated)
	e.wantMetrics(`nextsecure_mail_send_attempts_total{outcome="sent"} 1`,
		`nextsecure_mail_send_attempts_total{outcome="failed"} 0`)
	e.wantNoMetrics(`nextsecure_mail_send_attempts_total{outcome="retry"} 0`)
}

// wantMetrics fails unless /metrics holds every line given.
func (e *env) wantMetrics(lines ...string) {
	e.t.Helper()
	body := string(e.do(req{method: "GET", path: "/metrics"}).Body)
	for _, l := range lines {
		if !strings.Contains(body, l+"\n") {
			e.t.Errorf("metrics lack %q", l)
		}
	}
}

// wantNoMetrics fails if /metrics holds any line given.
func (e *env) wantNoMetrics(lines ...string) {
	e.t.Helper()
	body := string(e.do(req{method: "GET", path: "/metrics"}).Body)
	for _, l := range lines {
		if strings.Contains(body, l+"\n") {
			e.t.Errorf("metrics hold %q", l)
		}
	}
}

func TestMailSurvivesNoWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// No worker runs (crashed, or not started yet) when the request commits.
	if err := e.worker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.register("Jo", "jo@example.com", goodPassword)
	e.forgot("nobody@example.com")
	if got := len(e.smtp.Messages()); got != 0 {
		t.Fatalf("%d messages without a worker", got)
	}
	// One starts later: the mail is sent.
	e.worker = e.startWorker(e.svc)
	e.verify(verifyToken(t, e.mailTo("jo@example.com"))).wantStatus(t, http.StatusCreated)
	if got := len(e.smtp.Messages()); got != 1 {
		t.Errorf("messages = %d, want 1", got)
	}
}

func TestPermanentSMTPErrorNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.smtp.Reject("gone@example.com") // 550 to RCPT TO
	e.register("Gone", "gone@example.com", goodPassword)
	e.deliver()
	e.runDelayed() // a retry, were one scheduled, would run now
	if n := e.smtp.Refused("gone@example.com"); n != 1 {
		t.Errorf("RCPT TO refused %d times, want 1 (no retry)", n)
	}
	var state string
	if err := e.pool.QueryRow(context.Background(),
		"SELECT state FROM river_job WHERE kind = 'verify_email'").Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "cancelled" {
		t.Errorf("job state = %s, want cancelled", state)
	}
	e.wantMetrics(`nextsecure_mail_send_attempts_total{outcome="failed"} 1`,
		`nextsecure_mail_send_attempts_total{outcome="retry"} 0`,
		`nextsecure_mail_send_attempts_total{outcome="sent"} 0`)
}

// TestMailJobsHoldNoToken: a queued job holds the address and nothing
// else: no token, no link, no rendered mail.
func TestMailJobsHoldNoToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.worker.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.seedUser("owner@example.com", "")
	e.register("Kay", "kay@example.com", goodPassword)
	e.forgot("owner@example.com")
	rows, err := e.pool.Query(context.Background(), "SELECT kind, args::text FROM river_job ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	type job struct{ Kind, Args string }
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[job])
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("jobs = %v, want 2", jobs)
	}
	for _, j := range jobs {
		if strings.Contains(j.Args, "token") || strings.Contains(j.Args, "://") || strings.Contains(j.Args, "Subject") {
			t.Errorf("job %s holds %s", j.Kind, j.Args)
		}
	}
	var tokens int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM verification_tokens").Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 0 {
		t.Errorf("%d tokens exist before any mail was sent, want 0", tokens)
	}
}

func TestRegisterRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.RateLimits = false })
	long := strings.Repeat("a", 65) + "@example.com"
	for _, tt := range []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"malformed JSON", `{"name": "A", `, "", 400, "invalid_json", ""},
		{"not an object", `["a"]`, "", 400, "invalid_json", ""},
		{"null", `null`, "", 400, "invalid_json", ""},
		{"trailing data", `{"name":"A","email":"a@example.com","password":"` + goodPassword + `"} {}`, "", 400, "invalid_json", ""},
		{"unknown field", `{"name":"A","email":"a@example.com","password":"` + goodPassword + `","role":"admin"}`, "", 400, "invalid_json", ""},
		{"isActive smuggled", `{"name":"A","email":"a@example.com","password":"` + goodPassword + `","isActive":true}`, "", 400, "invalid_json", ""},
		{"wrong type", `{"name":1,"email":"a@example.com","password":"` + goodPassword + `"}`, "", 400, "invalid_json", ""},
		{"wrong content type", `{"name":"A","email":"a@example.com","password":"` + goodPassword + `"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"no content type", `{"name":"A","email":"a@example.com","password":"` + goodPassword + `"}`, "-", 415, "unsupported_media_type", ""},
		{"oversized", `{"name":"` + strings.Repeat("a", 70_000) + `"}`, "", 413, "body_too_large", ""},
		{"missing name", `{"email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"blank name", `{"name":"   ","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"long name", `{"name":"` + strings.Repeat("é", 101) + `","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"control in name", `{"name":"A\u0007B","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"NUL in name", `{"name":"A\u0000B","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"newline in name", `{"name":"A\r\nBcc: x@evil.com","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"bidi override in name", `{"name":"A\u202eB","email":"a@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "name"},
		{"invalid email", `{"name":"A","email":"not-an-email","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"display name", `{"name":"A","email":"Eve <a@example.com>","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"two addresses", `{"name":"A","email":"a@example.com, b@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"header injection", `{"name":"A","email":"a@example.com\r\nBcc: x@evil.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"NUL in email", `{"name":"A","email":"a\u0000@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"comment in email", `{"name":"A","email":"a(comment)@example.com","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"email too long", `{"name":"A","email":"` + long + `","password":"` + goodPassword + `"}`, "", 422, "validation_failed", "email"},
		{"short password", `{"name":"A","email":"a@example.com","password":"1234567"}`, "", 422, "validation_failed", "password"},
		{"common password", `{"name":"A","email":"a@example.com","password":"password123"}`, "", 422, "validation_failed", "password"},
		{"password over 1024 bytes", `{"name":"A","email":"a@example.com","password":"` + strings.Repeat("x", 1025) + `"}`, "", 422, "validation_failed", "password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			switch tt.contentType {
			case "":
			case "-":
				h["Content-Type"] = ""
			default:
				h["Content-Type"] = tt.contentType
			}
			r := e.do(req{method: "POST", path: "/v1/auth/register", body: tt.body, header: h})
			p := r.wantProblem(t, tt.status, tt.code)
			if tt.field != "" {
				found := false
				for _, f := range p.Errors {
					found = found || f.Field == tt.field
				}
				if !found {
					t.Errorf("errors %+v lack field %q", p.Errors, tt.field)
				}
			} else if len(p.Errors) != 0 {
				t.Errorf("errors = %+v, want none", p.Errors)
			}
		})
	}
	for _, table := range []string{"preregistrations", "verification_tokens", "river_job", "users"} {
		if n := e.countRows(table); n != 0 {
			t.Errorf("%s has %d rows after refused requests, want 0", table, n)
		}
	}
}

func TestRegisterAccepts64CharPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pw := " " + strings.Repeat("Zq9!", 16) + " " // kept exactly, spaces included
	e.register("Kim", "kim@example.com", pw)
	e.verify(verifyToken(t, e.mailTo("kim@example.com"))).wantStatus(t, http.StatusCreated)
	assertPassword(t, e, "kim@example.com", pw, true)
	assertPassword(t, e, "kim@example.com", strings.TrimSpace(pw), false)
}

func TestIdenticalFailuresHaveIdenticalBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.verify("no-such-token-1")
	b := e.verify("no-such-token-2")
	if string(a.Body) != string(b.Body) {
		t.Errorf("bodies differ:\n%s\n%s", a.Body, b.Body)
	}
	if a.Header.Get("X-Request-Id") == b.Header.Get("X-Request-Id") {
		t.Error("request ids repeat")
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.mustSignUp("Lee", "lee@example.com", goodPassword)
	logs := e.logs.String()
	for _, secret := range []string{goodPassword, res.Session.Token, "$argon2id$"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret %q", secret)
		}
	}
}

func TestWorkersShareQueueWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.RateLimits = false })
	// Two more instances, each with its own River client, share the queue.
	e.startWorker(e.svc)
	e.startWorker(e.instance(nil).svc)
	const n = 12
	for i := range n {
		e.register("W", fmt.Sprintf("w%d@example.com", i), goodPassword)
	}
	seen := map[string]int{}
	for _, m := range e.deliver() {
		seen[m.To[0]]++
	}
	if len(seen) != n {
		t.Errorf("%d recipients got mail, want %d", len(seen), n)
	}
	for to, k := range seen {
		if k != 1 {
			t.Errorf("%s got %d mails, want 1", to, k)
		}
	}
}

// TestRegisterVoidsTemplateTokens: a verification token written the Next
// Secure template's way (bound to no registration, found by identifier) is
// voided by a registration or a resend for its email, as bound ones are;
// tokens of other emails and other purposes stay.
func TestRegisterVoidsTemplateTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed := func(identifier, hash, purpose string) {
		e.exec(`INSERT INTO verification_tokens (identifier, token, expires, purpose)
			VALUES ($1, $2, now() + interval '1 hour', $3)`, identifier, hash, purpose)
	}
	left := func(hash string) bool {
		var n int
		if err := e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM verification_tokens WHERE token = $1`, hash).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	seed("ada@example.com", "template-1", "verify_email")
	seed("ada@example.com", "reset-1", "reset_password")
	seed("bob@example.com", "template-bob", "verify_email")

	e.register("Ada", "Ada@Example.com", goodPassword)
	if left("template-1") {
		t.Error("a registration left the template-style token for its email")
	}
	if !left("reset-1") || !left("template-bob") {
		t.Error("a registration voided a token of another purpose or another email")
	}

	// A resend voids them too (and the registration's own earlier token).
	seed("ada@example.com", "template-2", "verify_email")
	first := verifyToken(t, e.mailTo("ada@example.com"))
	e.clock.Advance(2 * time.Minute) // past the one-mail-a-minute limit
	e.do(req{method: "POST", path: "/v1/auth/resend-verification",
		body: map[string]string{"email": "ada@example.com"}}).wantStatus(t, http.StatusAccepted)
	e.deliver() // the job voids them when it issues the new token
	if left("template-2") {
		t.Error("a resend left the template-style token for its email")
	}
	e.verify(first).wantProblem(t, http.StatusBadRequest, "invalid_token")
}
