package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserSignUpAndSignIn walks the first flow a person meets: create
// an account, open the emailed link, confirm, sign out, sign in again.
func TestBrowserSignUpAndSignIn(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	tb := e.newTab()

	if s := tb.open("/"); s != http.StatusOK {
		t.Fatalf("/ served %d", s)
	}
	tb.wantPath("/login")
	tb.open("/register")
	tb.fill("#f-name", "Ada Lovelace")
	tb.fill("#f-email", "Ada@Example.com")
	tb.fill("#f-password", "short")
	if s := tb.submit("form[action='/register'] button"); s != http.StatusUnprocessableEntity {
		t.Fatalf("a short password: status %d, want 422", s)
	}
	if got := tb.attr("#f-password", "aria-invalid"); got != "true" {
		t.Fatalf("password aria-invalid = %q", got)
	}
	tb.wantText("#f-password-error", "at least 8")
	if got := tb.attr("#f-email", "value"); got != "Ada@Example.com" {
		t.Fatalf("the typed email was not kept: %q", got)
	}
	tb.fill("#f-password", "correct horse battery staple")
	tb.submit("form[action='/register'] button")
	tb.wantPath("/verify-email")
	tb.wantText(".flash", "Check your inbox")

	link := e.mailedLink("ada@example.com", "/verify-email?token=")
	tb.open(strings.TrimPrefix(link, e.srv.URL))
	tb.wantText("main", "Confirm this email address")
	tb.submit("form[action='/verify-email'] button")
	tb.wantPath("/account")
	if tb.cookie("session") == "" {
		t.Fatal("no session cookie after confirming")
	}

	tb.submit("form[action='/logout'] button")
	tb.wantPath("/login")
	tb.wantText(".flash", "signed out")
	if tb.cookie("session") != "" {
		t.Fatal("session cookie kept after signing out")
	}

	tb.fill("#f-email", "ada@example.com")
	tb.fill("#f-password", "wrong horse battery staple")
	if s := tb.submit("form[action='/login'] button[type=submit]"); s != http.StatusUnauthorized {
		t.Fatalf("a wrong password: status %d, want 401", s)
	}
	tb.wantText("[role=alert]", "The email or password is incorrect.")
	tb.fill("#f-password", "correct horse battery staple")
	tb.submit("form[action='/login'] button[type=submit]")
	tb.wantPath("/account")
}

// A browser that opens an unknown address gets a page; a program, and
// anything under /v1/, still gets the problem.
func TestPageNotFound(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t)
	for _, tt := range []struct {
		path, accept, wantType string
	}{
		{"/no-such-page", "text/html,application/xhtml+xml", "text/html; charset=utf-8"},
		{"/no-such-page", "", "application/problem+json"},
		{"/v1/no-such-route", "text/html", "application/problem+json"},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+tt.path, nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != tt.wantType {
			t.Errorf("GET %s Accept %q = %d %s, want 404 %s", tt.path, tt.accept, resp.StatusCode,
				resp.Header.Get("Content-Type"), tt.wantType)
		}
	}
}
