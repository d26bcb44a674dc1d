package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/password"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// Plain-HTTP tests of the pages' forms: what a browser test would take
// seconds to show, or cannot send at all.

// postForm posts values to path as a form, with extra headers (an empty
// value removes one), and returns the answer without following a redirect.
func (e *env) postForm(path string, values url.Values, header map[string]string) *response {
	e.t.Helper()
	return e.postBody(path, values.Encode(), header)
}

// postBody is postForm with the body as it is sent.
func (e *env) postBody(path, body string, header map[string]string) *response {
	e.t.Helper()
	hr, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		switch {
		case k == "Host":
			hr.Host = v // net/http sends the request's Host, not a header
		case v == "":
			hr.Header.Del(k)
		default:
			hr.Header.Set(k, v)
		}
	}
	return e.exchange(hr)
}

// setCookie returns the value the response sets for cookie name, and
// whether it sets it at all.
func (r *response) setCookie(name string) (string, bool) {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

func TestPageFormsRefuseBadPosts(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	login := url.Values{"email": {"ada@example.com"}, "password": {"whatever whatever"}}
	for _, tt := range []struct {
		name   string
		header map[string]string
		body   string
		want   int
	}{
		{name: "cross-site", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: http.StatusForbidden},
		{name: "same-site other origin", header: map[string]string{"Sec-Fetch-Site": "same-site"}, want: http.StatusForbidden},
		{name: "foreign Origin, no Sec-Fetch-Site", header: map[string]string{"Origin": "https://evil.example"}, want: http.StatusForbidden},
		{name: "Origin of the Host but not of BASE_URL", header: map[string]string{"Origin": "http://proxy.internal", "Host": "proxy.internal"}, want: http.StatusForbidden},
		{name: "JSON body", header: map[string]string{"Content-Type": "application/json"}, want: http.StatusUnsupportedMediaType},
		{name: "no Content-Type", header: map[string]string{"Content-Type": ""}, want: http.StatusUnsupportedMediaType},
		{name: "over 64 KiB", body: "email=" + strings.Repeat("a", 65<<10), want: http.StatusRequestEntityTooLarge},
		{name: "malformed", body: "email=%zz", want: http.StatusBadRequest},
		{name: "same-origin", header: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL}, want: http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := login.Encode()
			if tt.body != "" {
				body = tt.body
			}
			r := e.postBody("/login", body, tt.header)
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d: %.300s", r.Status, tt.want, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q, want the HTML page", ct)
			}
			if _, ok := r.setCookie("session"); ok {
				t.Error("a refused post set a session cookie")
			}
		})
	}
}

// The account lock applies to the page as to the JSON route: after 10
// failures even the right password is refused, with Retry-After, and no
// session is opened.
func TestPageLoginLockedAfterFailures(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	h, err := password.Hash(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.seedUser("locked@example.com", h)
	wrong := url.Values{"email": {"locked@example.com"}, "password": {"not the password at all"}}
	for i := range 10 {
		if r := e.postForm("/login", wrong, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.Status)
		}
	}
	r := e.postForm("/login", url.Values{"email": {"locked@example.com"}, "password": {goodPassword}}, nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("right password after 10 failures: %d Retry-After %q, want 429 with Retry-After",
			r.Status, r.Header.Get("Retry-After"))
	}
	if _, ok := r.setCookie("session"); ok {
		t.Fatal("a locked account got a session cookie")
	}
	if !strings.Contains(string(r.Body), `value="locked@example.com"`) || strings.Contains(string(r.Body), goodPassword) {
		t.Fatal("the page should keep the email and never echo the password")
	}
}

// Registering an address that has an account answers exactly as a new
// one: same status, same redirect, same message.
func TestPageRegisterRevealsNothing(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	e.seedUser("taken@example.com", "")
	answer := func(email string) string {
		r := e.postForm("/register", url.Values{"name": {"Ada"}, "email": {email}, "password": {goodPassword}}, nil)
		flash, _ := r.setCookie("flash")
		return strings.Join([]string{http.StatusText(r.Status), r.Header.Get("Location"), flash, string(r.Body)}, "|")
	}
	taken, fresh := answer("taken@example.com"), answer("fresh@example.com")
	if taken != fresh {
		t.Fatalf("an existing account answers %q, a new address %q", taken, fresh)
	}
	if !strings.HasPrefix(fresh, "See Other|/verify-email|verification_sent") {
		t.Fatalf("answer %q, want 303 to /verify-email with the verification_sent flash", fresh)
	}
}

// After signing in, the page goes only to a path on this server, whatever
// next says.
func TestPageLoginRedirectsOnlyLocally(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	h, err := password.Hash(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	e.seedUser("ada@example.com", h)
	for next, want := range map[string]string{
		"/account?tab=sessions": "/account?tab=sessions",
		"//evil.example/x":      "/account",
		"https://evil.example/": "/account",
		`/\evil.example`:        "/account",
		"account":               "/account",
	} {
		r := e.postForm("/login", url.Values{"email": {"ada@example.com"}, "password": {goodPassword}, "next": {next}}, nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("next %q: %d to %q, want 303 to %q", next, r.Status, r.Header.Get("Location"), want)
		}
	}
}

// A password sign-in that needs the second factor keeps where it was
// going: /login/mfa passes next on, and only a local one.
func TestPageLoginNextSurvivesMFA(t *testing.T) {
	t.Parallel()
	keys, err := secrets.Parse(testAuthSecret)
	if err != nil {
		t.Fatal(err)
	}
	e := newPageEnv(t, func(cfg *service.Config) { cfg.Secrets = keys })
	u := e.seedMFAUser("two@example.com")
	for next, want := range map[string]string{"/account?tab=sessions": "/account?tab=sessions", "//evil.example": "/account"} {
		r := e.postForm("/login", url.Values{"email": {"two@example.com"}, "password": {goodPassword}, "next": {next}}, nil)
		mfaToken, _ := r.setCookie("mfa_token")
		loc := r.Header.Get("Location")
		if r.Status != http.StatusSeeOther || mfaToken == "" || !strings.HasPrefix(loc, "/login/mfa") {
			t.Fatalf("next %q: %d to %q, want 303 to /login/mfa with the mfa cookie", next, r.Status, loc)
		}
		u2, _ := url.Parse(loc)
		r = e.postForm("/login/mfa", url.Values{"code": {e.code(u.secret, 0)}, "next": {u2.Query().Get("next")}},
			map[string]string{"Cookie": "mfa_token=" + mfaToken})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Fatalf("next %q: second factor %d to %q, want 303 to %q", next, r.Status, r.Header.Get("Location"), want)
		}
		e.nextStep() // a code is accepted once
	}
}
