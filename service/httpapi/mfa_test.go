package httpapi_test

import (
	"encoding/base32"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/oauthtest"
)

// Tests of issue 12, two-factor authentication (API.md, "Two-factor
// authentication"). The clock is the env's: codes of other steps are
// computed for its time, never waited for.

func TestMFAEnrolment(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	id := e.seedPasswordUser("ada@example.com", goodPassword)
	session, other := e.seedSession(id), e.seedSession(id)
	if e.mfaEnabled(session) {
		t.Fatal("mfaEnabled before enrolment")
	}

	// The password is required, and must be right.
	e.enrol(session, "").wantStatus(t, http.StatusForbidden)
	e.enrol(session, "wrong password").wantStatus(t, http.StatusForbidden)
	// Nothing pending yet.
	e.confirm(session, "123456").wantStatus(t, http.StatusConflict)

	en := e.mustEnrol(session)
	key, err := otp.NewKeyFromURL(en.OtpauthURL)
	if err != nil {
		t.Fatalf("otpauth URL %q: %v", en.OtpauthURL, err)
	}
	if key.Type() != "totp" || key.Issuer() != "Next Secure" || key.AccountName() != "ada@example.com" ||
		key.Secret() != en.Secret {
		t.Errorf("otpauth URL %q: type %s issuer %q account %q secret %q, want totp, Next Secure, ada@example.com, %q",
			en.OtpauthURL, key.Type(), key.Issuer(), key.AccountName(), key.Secret(), en.Secret)
	}
	u, _ := url.Parse(en.OtpauthURL)
	if q := u.Query(); (q.Get("algorithm") != "" && q.Get("algorithm") != "SHA1") ||
		(q.Get("digits") != "" && q.Get("digits") != "6") || (q.Get("period") != "" && q.Get("period") != "30") {
		t.Errorf("otpauth URL %q: want SHA1, 6 digits, 30 s", en.OtpauthURL)
	}
	if raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(en.Secret, "=")); err != nil || len(raw) < 20 {
		t.Errorf("secret %q: %d bytes (%v), want 160 bits of base32", en.Secret, len(raw), err)
	}
	png, ok := strings.CutPrefix(en.QRCode, "data:image/png;base64,")
	if !ok {
		t.Fatalf("qrCode %.40q, want a PNG data URL", en.QRCode)
	}
	if b, err := base64.StdEncoding.DecodeString(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG\r\n\x1a\n") {
		t.Errorf("qrCode is not a base64 PNG (%v)", err)
	}

	// A new call replaces the pending secret: the first one no longer confirms.
	en2 := e.mustEnrol(session)
	if en2.Secret == en.Secret {
		t.Fatal("a second enrolment answered the same secret")
	}
	e.confirm(session, e.code(en.Secret, 0)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	e.confirm(session, e.wrongCode(en2.Secret)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	if e.mfaEnabled(session) {
		t.Fatal("mfaEnabled after wrong codes")
	}

	codes := e.mustConfirm(session, en2.Secret)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if c == "" || seen[c] {
			t.Errorf("recovery codes %q: empty or repeated", codes)
		}
		seen[c] = true
	}
	if !e.mfaEnabled(session) {
		t.Error("mfaEnabled false after confirming")
	}
	// The user's other sessions end; this one lives.
	e.wantSessionDead(other)

	// On: enrolling again is a conflict, and so is confirming again.
	e.enrol(session, goodPassword).wantProblem(t, http.StatusConflict, "conflict")
	e.nextStep()
	e.confirm(session, e.code(en2.Secret, 0)).wantStatus(t, http.StatusConflict)
}

func TestMFAPasswordSignIn(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")

	// A wrong password is still a wrong password.
	e.login(u.email, "wrong password").wantProblem(t, http.StatusUnauthorized, "invalid_credentials")

	mfaToken := e.challenge(u.email)
	e.loginMFA(mfaToken, e.wrongCode(u.secret)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	code := e.code(u.secret, 0)
	session := wantSession(t, e.loginMFA(mfaToken, code))
	if got := e.whoami(session); got.ID != u.id {
		t.Errorf("signed in as %s, want %s", got.ID, u.id)
	}
	// The mfa token is spent.
	e.loginMFA(mfaToken, e.code(u.secret, 1)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// The same code again, with a new mfa token: a replay.
	e.loginMFA(e.challenge(u.email), code).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	// An unknown mfa token.
	e.loginMFA("no-such-token", e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// The next step's code works.
	e.nextStep()
	wantSession(t, e.loginMFA(e.challenge(u.email), e.code(u.secret, 0)))
	if n := e.countEvents(u.id, "mfa_failure"); n != 2 {
		t.Errorf("%d mfa_failure events, want 2 (a wrong code, a replay)", n)
	}
}

func TestMFAConcurrentSameCode(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	code := e.code(u.secret, 0)
	const n = 4
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.challenge(u.email)
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i], _ = e.send(req{method: "POST", path: "/v1/auth/login/mfa",
				body: map[string]string{"mfaToken": tokens[i], "code": code}})
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a racing request answered %d, want 200 or 401", s)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d requests with one code won (statuses %v), want exactly 1", won, n, statuses)
	}
	if got := e.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.id); got != 2 {
		// The session seedMFAUser opened and the winner's.
		t.Errorf("%d sessions, want 2", got)
	}
}

func TestMFADrift(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	// Well past the step the enrolment used.
	e.clock.Advance(5 * totpStep)
	mfaToken := e.challenge(u.email)
	e.loginMFA(mfaToken, e.code(u.secret, -2)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	e.loginMFA(mfaToken, e.code(u.secret, 2)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	wantSession(t, e.loginMFA(mfaToken, e.code(u.secret, -1)))
	wantSession(t, e.loginMFA(e.challenge(u.email), e.code(u.secret, 1)))
	// After the step ahead was used, the current one is older: refused.
	e.loginMFA(e.challenge(u.email), e.code(u.secret, 0)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
}

func TestMFARecoveryCodeOnce(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	wantSession(t, e.loginRecovery(e.challenge(u.email), u.recovery[0]))
	e.loginRecovery(e.challenge(u.email), u.recovery[0]).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	e.loginRecovery(e.challenge(u.email), "not-a-recovery-code").wantProblem(t, http.StatusUnauthorized, "invalid_code")
	wantSession(t, e.loginRecovery(e.challenge(u.email), u.recovery[1]))
}

func TestMFATokenExpires(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	c := wantChallenge(t, e.login(u.email, goodPassword))
	if at, err := time.Parse(time.RFC3339Nano, c.ExpiresAt); err != nil || !at.Equal(e.clock.Now().Add(5*time.Minute)) {
		t.Errorf("expiresAt %s (%v), want %s", c.ExpiresAt, err, e.clock.Now().Add(5*time.Minute).Format(time.RFC3339))
	}
	live := c.MFAToken
	dead := e.challenge(u.email)
	e.clock.Advance(5*time.Minute - 10*time.Second)
	wantSession(t, e.loginMFA(live, e.code(u.secret, 0)))
	e.clock.Advance(11 * time.Second)
	e.nextStep()
	e.loginMFA(dead, e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
}

func TestMFATokenDiesAfterFiveWrongCodes(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	mfaToken := e.challenge(u.email)
	for range 5 {
		e.loginMFA(mfaToken, e.wrongCode(u.secret)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	}
	e.loginMFA(mfaToken, e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.loginRecovery(mfaToken, u.recovery[0]).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// A new sign-in is not locked yet.
	wantSession(t, e.loginMFA(e.challenge(u.email), e.code(u.secret, 0)))
}

func TestMFATokenDiesWithPasswordReset(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	mfaToken := e.challenge(u.email)
	r := e.resetPassword(e.seedResetToken(u.id, u.email), newPassword)
	if r.Status >= 300 {
		t.Fatalf("reset answered %d %s", r.Status, r.Body)
	}
	e.loginMFA(mfaToken, e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	// MFA stays on: the new password leads to a challenge.
	wantChallenge(t, e.login(u.email, newPassword))
}

func TestMFATokenDiesWithPasswordChange(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	mfaToken := e.challenge(u.email)
	e.call(req{method: "PUT", path: "/v1/me/password", token: u.session,
		body: map[string]string{"currentPassword": goodPassword, "newPassword": newPassword}}).wantStatus(t, http.StatusNoContent)
	e.loginMFA(mfaToken, e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
}

func TestMFAConcurrentSameRecoveryCode(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	const n = 4
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = e.challenge(u.email)
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i], _ = e.send(req{method: "POST", path: "/v1/auth/login/mfa",
				body: map[string]string{"mfaToken": tokens[i], "recoveryCode": u.recovery[0]}})
		})
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a racing request answered %d, want 200 or 401", s)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d requests with one recovery code won (statuses %v), want exactly 1", won, n, statuses)
	}
}

func TestMFAMagicLink(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	c := wantChallenge(t, e.verifyMagic(e.mustMagicToken(u.email)))
	if got := e.whoami(wantSession(t, e.loginMFA(c.MFAToken, e.code(u.secret, 0)))); got.ID != u.id {
		t.Errorf("signed in as %s, want %s", got.ID, u.id)
	}
}

func TestMFAProviderSignIn(t *testing.T) {
	t.Parallel()
	o := newOAuthEnv(t)
	u := o.seedMFAUser("ada@example.com")
	o.exec(`INSERT INTO accounts (user_id, type, provider, provider_account_id) VALUES ($1, 'oidc', 'corp', 'ada-corp')`, u.id)
	o.corp.SetUser(oauthtest.User{Sub: "ada-corp", Email: "ada@example.com", EmailVerified: true, Name: "Ada"})

	b := newBrowser(t)
	r := b.signIn(o.env, "corp", "/")
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), baseURL+"/login/mfa") {
		t.Fatalf("callback answered %d to %q, want 302 to %s/login/mfa", r.Status, r.Header.Get("Location"), baseURL)
	}
	if sessionCookie(r) != "" {
		t.Error("callback set a session cookie before the second factor")
	}
	var mfaCookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "mfa_token" && c.MaxAge >= 0 && c.Value != "" {
			mfaCookie = c
		}
	}
	if mfaCookie == nil {
		t.Fatalf("callback set no mfa_token cookie (Set-Cookie %q)", r.Header.Values("Set-Cookie"))
	}
	if !mfaCookie.HttpOnly {
		t.Errorf("mfa_token cookie %+v, want HttpOnly", mfaCookie)
	}
	// The browser finishes with a code; its cookie carries the mfa token.
	body := `{"code":"` + o.code(u.secret, 0) + `"}`
	res := b.send(o.env, "POST", "/v1/auth/login/mfa", req{body: body, header: map[string]string{"Origin": baseURL}})
	if got := o.whoami(wantSession(t, res)); got.ID != u.id {
		t.Errorf("signed in as %s, want %s", got.ID, u.id)
	}
	// The cookie's mfa token is spent: sent again, it signs nobody in.
	o.nextStep()
	again := b.send(o.env, "POST", "/v1/auth/login/mfa", req{body: `{"code":"` + o.code(u.secret, 0) + `"}`,
		header: map[string]string{"Cookie": "mfa_token=" + mfaCookie.Value, "Origin": baseURL}})
	again.wantProblem(t, http.StatusBadRequest, "invalid_token")
}

func TestMFADisable(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	disable := func(pw, code string) *response {
		return e.call(req{method: "DELETE", path: "/v1/me/mfa/totp", token: u.session,
			body: map[string]string{"password": pw, "code": code}})
	}
	disable("wrong password", e.code(u.secret, 0)).wantStatus(t, http.StatusForbidden)
	disable(goodPassword, e.wrongCode(u.secret)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	if !e.mfaEnabled(u.session) {
		t.Fatal("MFA off after refused requests")
	}
	disable(goodPassword, e.code(u.secret, 0)).wantStatus(t, http.StatusNoContent)
	if e.mfaEnabled(u.session) {
		t.Error("mfaEnabled true after DELETE /v1/me/mfa/totp")
	}
	if n := e.countEvents(u.id, "mfa_disabled"); n != 1 {
		t.Errorf("%d mfa_disabled events, want 1", n)
	}
	e.mustLogin(u.email, goodPassword)

	// Off again with a recovery code instead of a TOTP code.
	e.nextStep()
	v := e.seedMFAUser("bob@example.com")
	e.call(req{method: "DELETE", path: "/v1/me/mfa/totp", token: v.session,
		body: map[string]string{"password": goodPassword, "code": v.recovery[3]}}).wantStatus(t, http.StatusNoContent)
	e.mustLogin(v.email, goodPassword)
}

// TestMFAWithoutPassword: a user without a password (provider or magic link
// only) enrols without one, and signs in by magic link with a second factor.
func TestMFAWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	id := e.seedUser("pat@example.com", "")
	session := e.seedSession(id)
	r := e.enrol(session, "")
	r.wantStatus(t, http.StatusOK)
	var en enrolment
	r.JSON(t, &en)
	if len(e.mustConfirm(session, en.Secret)) != 10 {
		t.Fatal("want 10 recovery codes")
	}
	if n := e.countEvents(id, "mfa_enabled"); n != 1 {
		t.Errorf("%d mfa_enabled events, want 1", n)
	}
	e.nextStep()
	c := wantChallenge(t, e.verifyMagic(e.mustMagicToken("pat@example.com")))
	wantSession(t, e.loginMFA(c.MFAToken, e.code(en.Secret, 0)))
}

// TestMFADeactivatedBetweenFactors: an account deactivated after its
// password was checked gets no session from the second factor.
func TestMFADeactivatedBetweenFactors(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	mfaToken := e.challenge(u.email)
	e.exec("UPDATE users SET is_active = false WHERE id = $1", u.id)
	e.loginMFA(mfaToken, e.code(u.secret, 0)).wantProblem(t, http.StatusForbidden, "account_disabled")
	if n := e.count(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.id); n > 1 {
		t.Errorf("%d sessions, want none beyond the seeded one", n)
	}
}

func TestMFANewRecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	regen := func(pw, code string) *response {
		return e.call(req{method: "POST", path: "/v1/me/mfa/recovery-codes", token: u.session,
			body: map[string]string{"password": pw, "code": code}})
	}
	regen("wrong password", e.code(u.secret, 0)).wantStatus(t, http.StatusForbidden)
	regen(goodPassword, e.wrongCode(u.secret)).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	r := regen(goodPassword, e.code(u.secret, 0))
	r.wantStatus(t, http.StatusOK)
	var rc recoveryCodes
	r.JSON(t, &rc)
	if len(rc.RecoveryCodes) != 10 {
		t.Fatalf("%d new recovery codes, want 10", len(rc.RecoveryCodes))
	}
	e.loginRecovery(e.challenge(u.email), u.recovery[0]).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	wantSession(t, e.loginRecovery(e.challenge(u.email), rc.RecoveryCodes[0]))
}

func TestMFAAdminReset(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	_, admin := e.seedAdmin("admin@example.com", goodPassword)
	pending := e.challenge(u.email)
	before := e.countMailTo(u.email)

	path := "/v1/admin/users/" + u.id + "/mfa"
	e.call(req{method: "DELETE", path: path, token: u.session}).wantStatus(t, http.StatusForbidden)
	e.call(req{method: "DELETE", path: "/v1/admin/users/no-such-user/mfa", token: admin}).wantStatus(t, http.StatusNotFound)
	e.call(req{method: "DELETE", path: path, token: admin}).wantStatus(t, http.StatusNoContent)

	if e.mfaEnabled(u.session) {
		t.Error("mfaEnabled true after the admin reset")
	}
	e.loginMFA(pending, e.code(u.secret, 0)).wantProblem(t, http.StatusBadRequest, "invalid_token")
	e.mustLogin(u.email, goodPassword)
	if n := e.countMailTo(u.email) - before; n != 1 {
		t.Errorf("%d mails to the owner after the reset, want 1 notice", n)
	}
	if m := e.mailTo(u.email); m.Subject != mail.SubjectMFAReset {
		t.Errorf("last mail to the owner is %q, want %q", m.Subject, mail.SubjectMFAReset)
	}
	if n := e.countEvents(u.id, "mfa_reset"); n != 1 {
		t.Errorf("%d mfa_reset events, want 1", n)
	}
}

func TestMFAWrongCodesLockAccount(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	// Wrong codes count as failed sign-ins (the password step may count
	// too): within ten of them, over fresh mfa tokens, the account locks.
	wrongs, locked := 0, false
	for round := 0; round < 3 && !locked; round++ {
		r := e.login(u.email, goodPassword)
		if r.Status == http.StatusTooManyRequests {
			locked = true
			break
		}
		mfaToken := wantChallenge(t, r).MFAToken
		for range 5 {
			r := e.loginMFA(mfaToken, e.wrongCode(u.secret))
			if r.Status == http.StatusTooManyRequests {
				r.wantProblem(t, http.StatusTooManyRequests, "rate_limited")
				locked = true
				break
			}
			r.wantProblem(t, http.StatusUnauthorized, "invalid_code")
			wrongs++
		}
	}
	if !locked || wrongs > 10 || wrongs < 5 {
		t.Fatalf("locked %v after %d wrong codes, want locked after 5 to 10", locked, wrongs)
	}
	// Locked: the right password does not help.
	e.login(u.email, goodPassword).wantProblem(t, http.StatusTooManyRequests, "rate_limited")
}

func TestMFANothingSecretInLogs(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	u := e.seedMFAUser("ada@example.com")
	var codes []string
	mfaToken := e.challenge(u.email)
	wrong := e.wrongCode(u.secret)
	e.loginMFA(mfaToken, wrong).wantProblem(t, http.StatusUnauthorized, "invalid_code")
	code := e.code(u.secret, 0)
	wantSession(t, e.loginMFA(mfaToken, code))
	codes = append(codes, wrong, code)
	recoveryToken := e.challenge(u.email)
	wantSession(t, e.loginRecovery(recoveryToken, u.recovery[0]))

	logs := e.logs.String()
	if logs == "" {
		t.Fatal("no logs captured")
	}
	for _, s := range append([]string{u.secret, mfaToken, recoveryToken}, u.recovery...) {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold %q", s)
		}
	}
	for _, c := range codes {
		if strings.Contains(logs, `"`+c+`"`) || strings.Contains(logs, "="+c) {
			t.Errorf("the logs hold the code %s", c)
		}
	}
}
