// Package oauthtest runs fake OAuth 2.0 providers in process, on loopback,
// for tests that go through real HTTP: an OpenID Connect provider (OIDC)
// and GitHub (GitHub).
//
// Both approve every authorization at once, as if the user had clicked
// "allow" (unless told to deny the next one), and both check what a real
// provider checks: the client id and secret, the redirect URI, PKCE with
// S256, and that a code is used once. Knobs change the user and make the
// next answer misbehave in the ways a client must refuse; counters tell a
// test what the client did.
//
// Knobs: SetUser; DenyNext; SetRedirectURI (the registered callback);
// SetClock (share the client's clock, for expiry); Override (answer a path
// with any handler: hang, garbage, a huge body); for OIDC also
// SetProfileInIDToken (false: the ID token carries only sub, userinfo the
// rest), SetUserinfoSub, TamperNext (wrong signature, audience, issuer or
// nonce, missing nonce, expired, unsigned) and SetDiscoveryDown. Readings:
// Counts, LastAuthorization (state, nonce, PKCE challenge, scope) and
// Issued (every token handed out, to look for them where they must not be).
//
// A malformed request gets a 400 (authorize) or an OAuth error answer
// (token endpoint) and is counted in Counts.Refused, so a test that sees an
// unexpected failure can tell the client sent something wrong.
//
// ID tokens are signed RS256 with crypto/rsa; verifying them is the job
// of the code under test (go-oidc), which this package's own tests use.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Counts are what a fake has seen. Read them with a fake's Counts method.
type Counts struct {
	Authorizations int // authorization requests approved or denied
	Exchanges      int // codes exchanged for tokens
	Userinfo       int // userinfo (OIDC) or /user (GitHub) answers
	Emails         int // /user/emails answers (GitHub)
	Discovery      int // discovery documents served (OIDC)
	Refused        int // requests refused as malformed or unauthorized
}

// Authorization is what the client sent to the authorization endpoint.
type Authorization struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	// Query is the whole query string, for checks on anything else.
	Query url.Values
}

// Tokens are the tokens a fake issued in one exchange.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	IDToken      string // OIDC only
}

// grant is an issued code waiting for its exchange.
type grant struct {
	auth   Authorization
	issued time.Time
}

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = 10 * time.Minute

// authServer is the part both fakes share: the authorization endpoint's
// checks, codes, PKCE and client authentication.
type authServer struct {
	clientID, clientSecret string
	now                    func() time.Time

	mu          sync.Mutex
	redirectURI string // "" accepts any absolute http(s) URL
	deny        bool
	codes       map[string]grant
	last        *Authorization
	issued      []Tokens
	counts      Counts
	overrides   map[string]http.Handler // path -> handler answering instead of the fake's
}

func newAuthServer(clientID, clientSecret string) *authServer {
	return &authServer{clientID: clientID, clientSecret: clientSecret, now: time.Now,
		codes: map[string]grant{}, overrides: map[string]http.Handler{}}
}

// serve answers with an override for the request's path when there is
// one, else with the fake's own handler.
func (a *authServer) serve(own http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		h := a.overrides[r.URL.Path]
		a.mu.Unlock()
		if h == nil {
			h = own
		}
		h.ServeHTTP(w, r)
	})
}

// authorize checks an authorization request and redirects to the client
// with a code, or with error=access_denied when told to deny. oidc requires
// the openid scope.
func (a *authServer) authorize(w http.ResponseWriter, r *http.Request, oidc bool) {
	q := r.URL.Query()
	auth := Authorization{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), ResponseType: q.Get("response_type"),
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"), Query: q,
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	refuse := func(msg string) {
		a.counts.Refused++
		http.Error(w, "oauthtest: "+msg, http.StatusBadRequest)
	}
	switch {
	case auth.ClientID != a.clientID:
		refuse("unknown client_id " + auth.ClientID)
		return
	case !a.redirectOK(auth.RedirectURI, oidc):
		refuse("redirect_uri " + auth.RedirectURI + " is not registered")
		return
	case auth.ResponseType != "code" && (oidc || auth.ResponseType != ""):
		refuse("response_type must be code")
		return
	case auth.CodeChallengeMethod != "S256" || len(auth.CodeChallenge) != 43:
		refuse("PKCE with code_challenge_method=S256 is required")
		return
	case oidc && !slices.Contains(strings.Fields(auth.Scope), "openid"):
		refuse("scope must contain openid")
		return
	}
	a.last = &auth
	a.counts.Authorizations++
	back, _ := url.Parse(auth.RedirectURI)
	bq := back.Query()
	if a.deny {
		a.deny = false
		bq.Set("error", "access_denied")
		bq.Set("error_description", "The user denied the request")
	} else {
		code := rand.Text()
		a.codes[code] = grant{auth: auth, issued: a.now()}
		bq.Set("code", code)
	}
	if auth.State != "" {
		bq.Set("state", auth.State)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// redirectOK reports whether uri may receive codes. GitHub lets a client
// leave it out (the app's registered URL is used); that is "" here.
func (a *authServer) redirectOK(uri string, required bool) bool {
	if uri == "" {
		return !required && a.redirectURI != ""
	}
	if a.redirectURI != "" {
		return uri == a.redirectURI
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// tokenError is an OAuth error answer of the token endpoint.
type tokenError struct {
	status int
	code   string
	desc   string
}

// exchange authenticates the client of a token request and consumes its
// code, checking the redirect URI and the PKCE verifier. The code is
// consumed only once the client is authenticated, so a client that retries
// with its credentials in the body (x/oauth2's auto-detection) can.
// The caller holds a.mu.
func (a *authServer) exchange(r *http.Request) (Authorization, *tokenError) {
	if r.Method != http.MethodPost {
		return Authorization{}, &tokenError{http.StatusMethodNotAllowed, "invalid_request", "POST only"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return Authorization{}, &tokenError{http.StatusBadRequest, "invalid_request", "form: " + err.Error()}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: both are form-urlencoded inside the header.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != a.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(a.clientSecret)) != 1 {
		return Authorization{}, &tokenError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	}
	if gt := r.PostForm.Get("grant_type"); gt != "authorization_code" && gt != "" {
		return Authorization{}, &tokenError{http.StatusBadRequest, "unsupported_grant_type", gt}
	}
	code := r.PostForm.Get("code")
	g, ok := a.codes[code]
	delete(a.codes, code)
	switch {
	case !ok:
		return Authorization{}, &tokenError{http.StatusBadRequest, "invalid_grant", "unknown or used code"}
	case a.now().Sub(g.issued) > codeTTL:
		return Authorization{}, &tokenError{http.StatusBadRequest, "invalid_grant", "code expired"}
	case g.auth.RedirectURI != r.PostForm.Get("redirect_uri"):
		return Authorization{}, &tokenError{http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization's"}
	case !pkceOK(g.auth.CodeChallenge, r.PostForm.Get("code_verifier")):
		return Authorization{}, &tokenError{http.StatusBadRequest, "invalid_grant", "code_verifier does not match code_challenge"}
	}
	a.counts.Exchanges++
	return g.auth, nil
}

// pkceOK checks an S256 verifier (RFC 7636 4.6).
func pkceOK(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// bearer returns the token of an Authorization: Bearer (or GitHub's
// "token") header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, scheme); ok {
			return t
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Knobs and readings shared by both fakes.

// SetRedirectURI makes uri the only redirect URI the fake accepts (as a
// registered application has); by default any absolute http(s) URL is.
func (a *authServer) SetRedirectURI(uri string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.redirectURI = uri
}

// SetClock makes the fake read time from now (for ID token lifetimes and
// code expiry), so it agrees with a client's injected clock.
func (a *authServer) SetClock(now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = now
}

// DenyNext makes the next authorization answer error=access_denied, as
// when the user refuses.
func (a *authServer) DenyNext() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deny = true
}

// Override makes h answer every request for path (such as "/token" or
// "/api/v3/user") instead of the fake, so a test can make the provider
// misbehave: hang, answer garbage, send too much. A nil h restores the
// fake's own answer.
func (a *authServer) Override(path string, h http.Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h == nil {
		delete(a.overrides, path)
	} else {
		a.overrides[path] = h
	}
}

// LastAuthorization returns the last authorization request the fake
// accepted, and false if there was none.
func (a *authServer) LastAuthorization() (Authorization, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		return Authorization{}, false
	}
	return *a.last, true
}

// Issued returns the tokens of every successful exchange, oldest first.
func (a *authServer) Issued() []Tokens {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.issued)
}

// Counts returns what the fake has seen so far.
func (a *authServer) Counts() Counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts
}

// ClientID is the id of the one client the fake knows.
func (a *authServer) ClientID() string { return a.clientID }

// ClientSecret is that client's secret.
func (a *authServer) ClientSecret() string { return a.clientSecret }
