package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do(req{method: "GET", path: "/v1/nope"}).wantProblem(t, http.StatusNotFound, "not_found")

	r := e.do(req{method: "PUT", path: "/v1/auth/login", body: "{}"})
	r.wantProblem(t, http.StatusMethodNotAllowed, "not_found")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q, want it to list POST", allow)
	}
	r = e.do(req{method: "POST", path: "/v1/me"})
	r.wantStatus(t, http.StatusMethodNotAllowed)
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		if !strings.Contains(r.Header.Get("Allow"), m) {
			t.Errorf("Allow = %q, want it to list %s", r.Header.Get("Allow"), m)
		}
	}
}

func TestAuthResponsesAreNotCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range []req{
		{method: "POST", path: "/v1/auth/login", body: map[string]string{"email": "a@example.com", "password": "wrong password"}},
		{method: "POST", path: "/v1/auth/register", body: "{"},
		{method: "GET", path: "/v1/me"},
		{method: "GET", path: "/v1/me/sessions"},
		{method: "POST", path: "/v1/me"},
		{method: "GET", path: "/v1/auth/nope"},
	} {
		if got := e.do(r).Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s: Cache-Control = %q, want no-store", r.method, r.path, got)
		}
	}
}
