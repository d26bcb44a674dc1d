package httpapi_test

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/service"
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

// getRoutes reads the paths of every GET route from routes.go, so that a
// route added there is covered without editing this test.
func getRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`\(\s*"GET"\s*,\s*"([^"]+)"`).FindAllSubmatch(src, -1) {
		paths = append(paths, string(m[1]))
	}
	if len(paths) < 5 {
		t.Fatalf("found only %d GET routes in routes.go: %q", len(paths), paths)
	}
	return paths
}

// TestHeadOnGetRoutes checks that every GET route answers HEAD as it answers
// GET, without a body: same status, same headers (Content-Length included
// when GET has one), instead of 405; and that 405 answers list HEAD in Allow
// wherever GET is allowed.
func TestHeadOnGetRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.mustSignUpAdmin("Ada", "ada@example.com")
	// Per-request values, and Content-Length of /metrics, whose numbers
	// change between any two requests.
	varying := map[string]bool{"Date": true, "X-Request-Id": true}
	for _, path := range getRoutes(t) {
		path = strings.ReplaceAll(path, ":id", admin.User.ID)
		t.Run(path, func(t *testing.T) {
			for _, token := range []string{admin.Session.Token, ""} {
				// identity: Go's client asks GET, not HEAD, for gzip.
				hdr := map[string]string{"Accept-Encoding": "identity"}
				get := e.do(req{method: "GET", path: path, token: token, header: hdr})
				head := e.do(req{method: "HEAD", path: path, token: token, header: hdr})
				if head.Status != get.Status {
					t.Fatalf("token %v: got HEAD status %d, want GET's %d (body %s)", token != "", head.Status, get.Status, head.Body)
				}
				if path == "/openapi.yaml" && head.Header.Get("Content-Length") == "" {
					t.Error("got no Content-Length for HEAD /openapi.yaml, want the document's")
				}
				if len(head.Body) != 0 {
					t.Errorf("got HEAD body %q, want none", head.Body)
				}
				for k := range mergeKeys(get.Header, head.Header) {
					if varying[k] || (k == "Content-Length" && path == "/metrics") {
						continue
					}
					if g, h := get.Header.Values(k), head.Header.Values(k); !slices.Equal(g, h) {
						t.Errorf("token %v: header %s: got HEAD %q, want GET's %q", token != "", k, h, g)
					}
				}
				if path == "/metrics" && (get.Header.Get("Content-Length") == "") != (head.Header.Get("Content-Length") == "") {
					t.Errorf("Content-Length: got HEAD %q, GET %q: want both or neither", head.Header.Get("Content-Length"), get.Header.Get("Content-Length"))
				}
			}
		})
	}
	for _, path := range []string{"/healthz", "/v1/me", "/v1/admin/users/" + admin.User.ID} {
		r := e.do(req{method: "POST", path: path, token: admin.Session.Token, body: "{}"})
		r.wantStatus(t, http.StatusMethodNotAllowed)
		allow := strings.Split(r.Header.Get("Allow"), ", ")
		if !slices.Contains(allow, "GET") || !slices.Contains(allow, "HEAD") {
			t.Errorf("%s: got Allow %q, want it to list GET and HEAD", path, r.Header.Get("Allow"))
		}
	}
	r := e.do(req{method: "GET", path: "/v1/auth/login"})
	r.wantStatus(t, http.StatusMethodNotAllowed)
	if allow := r.Header.Get("Allow"); strings.Contains(allow, "HEAD") {
		t.Errorf("/v1/auth/login: got Allow %q, want no HEAD where GET is not allowed", allow)
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	keys := make(map[string]bool, len(a)+len(b))
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// wantTooCommon fails unless r is a 422 with one too_common error for field.
func wantTooCommon(t *testing.T, r *response, field string) {
	t.Helper()
	p := r.wantProblem(t, http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 1 || p.Errors[0].Field != field || p.Errors[0].Code != "too_common" {
		t.Errorf("got errors %+v, want one too_common for %s", p.Errors, field)
	}
}

// TestPasswordStrength checks through the router that registration,
// password change and reset refuse a password zxcvbn guesses within a
// million tries, the user's own name and email counted as known.
func TestPasswordStrength(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const ownName = "Xantippe Vorbrugg"
	const fromName = "xantippevorbrugg" // weak only for whoever is called that
	register := func(name, email, pw string) *response {
		return e.do(req{method: "POST", path: "/v1/auth/register",
			body: map[string]string{"name": name, "email": email, "password": pw}})
	}
	wantTooCommon(t, register("Ann", "ann@example.com", "password1234"), "password")
	wantTooCommon(t, register("Ann", "ann@example.com", "Password1234!"), "password")
	wantTooCommon(t, register(ownName, "xv@example.com", fromName), "password")
	wantTooCommon(t, register("Ann", "quillon.marrowby@example.com", "quillonmarrowby"), "password")
	register("Bob", "bob@example.com", fromName).wantStatus(t, http.StatusAccepted)

	a := e.mustSignUp(ownName, "xv@example.com", goodPassword)
	wantTooCommon(t, e.do(req{method: "PUT", path: "/v1/me/password", token: a.Session.Token,
		body: map[string]string{"currentPassword": goodPassword, "newPassword": fromName}}), "newPassword")

	token := e.mustResetToken("xv@example.com")
	wantTooCommon(t, e.resetPassword(token, fromName), "password")
	wantTooCommon(t, e.resetPassword(token, "password1234"), "password")
	// The refusals left the token unused.
	e.resetPassword(token, "plinth orbit marzipan quietly").wantStatus(t, http.StatusNoContent)
	e.mustLogin("xv@example.com", "plinth orbit marzipan quietly")
}

// TestShortTokenLifetimes checks that token lifetimes under a minute work
// end to end: with VERIFY_TOKEN_TTL=30s every registration answered 500,
// as the mail templates refused to render.
func TestShortTokenLifetimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *service.Config) { c.VerifyTTL, c.ResetTTL = 30*time.Second, 5*time.Second })
	e.register("Ann", "ann@example.com", goodPassword)
	if m := e.mailTo("ann@example.com"); !strings.Contains(m.Text, "expires in 30 seconds.") {
		t.Errorf("got verification mail %q, want it to say the link expires in 30 seconds", m.Text)
	}
	e.mustSignUp("Bob", "bob@example.com", goodPassword)
	e.forgot("bob@example.com")
	if m := e.mailTo("bob@example.com"); !strings.Contains(m.Text, "expires in 5 seconds.") {
		t.Errorf("got reset mail %q, want it to say the link expires in 5 seconds", m.Text)
	}
}
