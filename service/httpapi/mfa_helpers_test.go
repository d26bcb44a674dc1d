package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Helpers of the two-factor tests (issue 12, API.md "Two-factor
// authentication").

// totpStep is the TOTP time step of RFC 6238 as the contract fixes it.
const totpStep = 30 * time.Second

// newMFAEnv starts a stack whose service has AUTH_SECRET (TOTP secrets are
// sealed under it); configure changes its settings afterwards.
func newMFAEnv(t *testing.T, configure ...func(*service.Config)) *env {
	t.Helper()
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, append([]func(*service.Config){func(cfg *service.Config) { cfg.Secrets = keys }}, configure...)...)
}

// codeAt is the TOTP code of secret at time at (SHA-1, 6 digits, 30 s).
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// code is the TOTP code of secret at the env clock's time plus steps time
// steps (negative: earlier).
func (e *env) code(secret string, steps int) string {
	e.t.Helper()
	return codeAt(e.t, secret, e.clock.Now().Add(time.Duration(steps)*totpStep))
}

// wrongCode is a six-digit code that is none of secret's codes from two
// steps before to two steps after now.
func (e *env) wrongCode(secret string) string {
	e.t.Helper()
	near := map[string]bool{}
	for s := -2; s <= 2; s++ {
		near[e.code(secret, s)] = true
	}
	for _, c := range []string{"000000", "123456", "999999", "314159", "271828", "161803"} {
		if !near[c] {
			return c
		}
	}
	e.t.Fatal("no wrong code found")
	return ""
}

// nextStep moves the clock to the next TOTP time step, so the codes the
// test computes from now on are new.
func (e *env) nextStep() {
	e.clock.Advance(totpStep)
}

// call sends r like do, but checks the answer against openapi.yaml only
// when the document has the route, so these tests say what the feature does
// even before its routes are documented.
func (e *env) call(r req) *response {
	e.t.Helper()
	var raw []byte
	if r.body != nil {
		var err error
		if raw, err = json.Marshal(r.body); err != nil {
			e.t.Fatal(err)
		}
	}
	var body io.Reader
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if documented(e.t, hr) {
		return e.do(r)
	}
	if raw != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp := e.exchange(hr)
	if resp.Status >= 500 {
		e.t.Errorf("%s %s answered %d %s", r.method, r.path, resp.Status, truncate(resp.Body))
	}
	return resp
}

// enrolment is the answer of POST /v1/me/mfa/totp.
type enrolment struct {
	Secret     string `json:"secret"`
	OtpauthURL string `json:"otpauthUrl"`
	QRCode     string `json:"qrCode"`
}

// enrol posts POST /v1/me/mfa/totp with pw ("" sends no password).
func (e *env) enrol(token, pw string) *response {
	e.t.Helper()
	body := map[string]string{}
	if pw != "" {
		body["password"] = pw
	}
	return e.call(req{method: "POST", path: "/v1/me/mfa/totp", body: body, token: token})
}

// mustEnrol starts an enrolment with goodPassword and returns its answer.
func (e *env) mustEnrol(token string) enrolment {
	e.t.Helper()
	r := e.enrol(token, goodPassword)
	r.wantStatus(e.t, http.StatusOK)
	var en enrolment
	r.JSON(e.t, &en)
	if en.Secret == "" {
		e.t.Fatalf("enrolment without a secret: %s", r.Body)
	}
	return en
}

// confirm posts POST /v1/me/mfa/totp/confirm.
func (e *env) confirm(token, code string) *response {
	e.t.Helper()
	return e.call(req{method: "POST", path: "/v1/me/mfa/totp/confirm", body: map[string]string{"code": code}, token: token})
}

// recoveryCodes is the answer of confirm and of POST /v1/me/mfa/recovery-codes.
type recoveryCodes struct {
	RecoveryCodes []string `json:"recoveryCodes"`
}

// mustConfirm confirms with the current code and returns the recovery codes.
func (e *env) mustConfirm(token, secret string) []string {
	e.t.Helper()
	r := e.confirm(token, e.code(secret, 0))
	r.wantStatus(e.t, http.StatusOK)
	var rc recoveryCodes
	r.JSON(e.t, &rc)
	return rc.RecoveryCodes
}

// mfaUser is a user with MFA on.
type mfaUser struct {
	id, email, session, secret string
	recovery                   []string
}

// seedMFAUser inserts a user with password goodPassword, turns MFA on through
// the API and moves the clock to the next step, so the confirming code is
// spent and the test's codes are fresh.
func (e *env) seedMFAUser(email string) mfaUser {
	e.t.Helper()
	u := mfaUser{email: email}
	u.id = e.seedPasswordUser(email, goodPassword)
	u.session = e.seedSession(u.id)
	u.secret = e.mustEnrol(u.session).Secret
	u.recovery = e.mustConfirm(u.session, u.secret)
	e.nextStep()
	return u
}

// mfaChallenge is the answer of a first factor when MFA is on.
type mfaChallenge struct {
	MFARequired bool   `json:"mfaRequired"`
	MFAToken    string `json:"mfaToken"`
	ExpiresAt   string `json:"expiresAt"`
}

// wantChallenge fails unless r is a 200 mfaRequired answer without a session
// (in the body or as a cookie), and returns it.
func wantChallenge(t *testing.T, r *response) mfaChallenge {
	t.Helper()
	r.wantStatus(t, http.StatusOK)
	var c mfaChallenge
	r.JSON(t, &c)
	if !c.MFARequired || c.MFAToken == "" || c.ExpiresAt == "" {
		t.Fatalf("first factor answered %s, want mfaRequired with a token and expiresAt", r.Body)
	}
	if strings.Contains(string(r.Body), `"session"`) {
		t.Errorf("first factor answered a session: %s", r.Body)
	}
	if s := sessionCookie(r); s != "" {
		t.Errorf("first factor set a session cookie")
	}
	return c
}

// challenge signs in with the password and requires the MFA challenge.
func (e *env) challenge(email string) string {
	e.t.Helper()
	return wantChallenge(e.t, e.login(email, goodPassword)).MFAToken
}

// loginMFA posts POST /v1/auth/login/mfa with a TOTP code.
func (e *env) loginMFA(mfaToken, code string) *response {
	e.t.Helper()
	return e.call(req{method: "POST", path: "/v1/auth/login/mfa",
		body: map[string]string{"mfaToken": mfaToken, "code": code}})
}

// loginRecovery posts POST /v1/auth/login/mfa with a recovery code.
func (e *env) loginRecovery(mfaToken, code string) *response {
	e.t.Helper()
	return e.call(req{method: "POST", path: "/v1/auth/login/mfa",
		body: map[string]string{"mfaToken": mfaToken, "recoveryCode": code}})
}

// wantSession fails unless r is a 200 sign-in with a session and its cookie,
// and returns the session token.
func wantSession(t *testing.T, r *response) string {
	t.Helper()
	r.wantStatus(t, http.StatusOK)
	var res authResult
	r.JSON(t, &res)
	if res.Session.Token == "" {
		t.Fatalf("sign-in answered no session: %s", r.Body)
	}
	if c := sessionCookie(r); c != res.Session.Token {
		t.Errorf("session cookie %q, want the session's token", c)
	}
	return res.Session.Token
}

// mfaEnabled reads mfaEnabled from GET /v1/me.
func (e *env) mfaEnabled(token string) bool {
	e.t.Helper()
	r := e.call(req{method: "GET", path: "/v1/me", token: token})
	r.wantStatus(e.t, http.StatusOK)
	var u struct {
		MFAEnabled *bool `json:"mfaEnabled"`
	}
	r.JSON(e.t, &u)
	if u.MFAEnabled == nil {
		e.t.Fatalf("GET /v1/me has no mfaEnabled: %s", r.Body)
	}
	return *u.MFAEnabled
}

// wantSessionDead fails unless token no longer authenticates.
func (e *env) wantSessionDead(token string) {
	e.t.Helper()
	if r := e.call(req{method: "GET", path: "/v1/me", token: token}); r.Status != http.StatusUnauthorized {
		e.t.Errorf("GET /v1/me with a revoked session answered %d, want 401", r.Status)
	}
}
