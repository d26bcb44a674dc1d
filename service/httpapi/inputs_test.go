package httpapi_test

import (
	"net/http"
	"testing"
)

// TestAmbiguousJSONRefused checks through the router that a body
// encoding/json would read one way and a proxy or log another (a duplicate
// key, a key matching a field only case-insensitively) is 400 invalid_json,
// on every kind of route, and changes nothing.
func TestAmbiguousJSONRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustSignUp("Ann", "ann@example.com", goodPassword)
	for _, tt := range []struct {
		name string
		r    req
	}{
		{"register duplicate", req{method: "POST", path: "/v1/auth/register",
			body: `{"name":"B","email":"b@example.com","password":"x","password":"` + goodPassword + `"}`}},
		{"register case duplicate", req{method: "POST", path: "/v1/auth/register",
			body: `{"name":"B","email":"b@example.com","password":"a","PASSWORD":"` + goodPassword + `"}`}},
		{"register case key", req{method: "POST", path: "/v1/auth/register",
			body: `{"name":"B","Email":"b@example.com","password":"` + goodPassword + `"}`}},
		{"login case key", req{method: "POST", path: "/v1/auth/login",
			body: `{"email":"ann@example.com","Password":"` + goodPassword + `"}`}},
		{"login duplicate email", req{method: "POST", path: "/v1/auth/login",
			body: `{"email":"x@example.com","email":"ann@example.com","password":"` + goodPassword + `"}`}},
		{"update me duplicate", req{method: "PATCH", path: "/v1/me", token: a.Session.Token,
			body: `{"name":"Eve","name":"Ann"}`}},
		{"update me case key", req{method: "PATCH", path: "/v1/me", token: a.Session.Token,
			body: `{"Name":"Eve"}`}},
		{"change password case key", req{method: "PUT", path: "/v1/me/password", token: a.Session.Token,
			body: `{"currentPassword":"` + goodPassword + `","newpassword":"an entirely new passphrase"}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.do(tt.r).wantProblem(t, http.StatusBadRequest, "invalid_json")
		})
	}
	if got := e.countRows("preregistrations"); got != 0 {
		t.Errorf("got %d preregistrations, want 0", got)
	}
	if got := e.me(a.Session.Token).Name; got == nil || *got != "Ann" {
		t.Errorf("got name %v, want Ann unchanged", got)
	}
	e.mustLogin("ann@example.com", goodPassword)
}
