package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// User is the person signed in at the OpenID Connect provider.
type User struct {
	Sub           string
	Email         string
	EmailVerified bool
	Name          string
	Picture       string
}

// Tamper spoils the next ID token in one way a client must refuse.
type Tamper int

// The ways to spoil an ID token.
const (
	TamperNone     Tamper = iota
	WrongSignature        // signed with a key that is not in the JWKS (same kid)
	WrongAudience         // aud is another client
	WrongIssuer           // iss is another issuer
	WrongNonce            // nonce is not the one the client sent
	Expired               // exp (and iat) an hour in the past
	MissingNonce          // no nonce claim although the client sent one
	AlgNone               // unsigned: alg "none" and an empty signature
)

// OIDC is a fake OpenID Connect provider: discovery at
// /.well-known/openid-configuration, an RS256 key at /jwks, /authorize,
// /token and /userinfo. Its issuer is its URL.
type OIDC struct {
	*authServer
	srv   *httptest.Server
	key   *rsa.PrivateKey // signs, published in the JWKS
	other *rsa.PrivateKey // signs WrongSignature tokens, published nowhere

	// Guarded by authServer.mu:
	user          User
	profileInID   bool            // the ID token carries email and profile claims
	userinfoSub   string          // when set, userinfo answers this sub
	tamper        Tamper          // spoils the next ID token
	accessTokens  map[string]User // access token -> the user it was issued for
	discoveryDown bool            // discovery answers 503
}

// kid is the key id of the fake's signing key.
const kid = "oauthtest-1"

// NewOIDC starts a fake OpenID Connect provider for one client; it stops
// when the test ends. Its user is alice@example.com, verified, and its ID
// tokens carry the profile claims until told otherwise.
func NewOIDC(tb testing.TB, clientID, clientSecret string) *OIDC {
	tb.Helper()
	p := &OIDC{
		authServer:   newAuthServer(clientID, clientSecret),
		key:          mustKey(tb),
		other:        mustKey(tb),
		profileInID:  true,
		accessTokens: map[string]User{},
		user: User{Sub: "oidc-" + rand.Text()[:10], Email: "alice@example.com", EmailVerified: true,
			Name: "Alice Example", Picture: "https://img.example.com/alice.png"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) { p.authorize(w, r, true) })
	mux.HandleFunc("/token", p.token)
	mux.HandleFunc("/userinfo", p.userinfo)
	p.srv = httptest.NewServer(p.serve(mux))
	tb.Cleanup(p.srv.Close)
	return p
}

func mustKey(tb testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Issuer is the provider's issuer URL (its address), for discovery.
func (p *OIDC) Issuer() string { return p.srv.URL }

// Client returns an HTTP client for the provider's server.
func (p *OIDC) Client() *http.Client { return p.srv.Client() }

// SetUser makes u the user of every later authorization.
func (p *OIDC) SetUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

// User returns the current user.
func (p *OIDC) User() User {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.user
}

// SetProfileInIDToken chooses whether ID tokens carry email,
// email_verified, name and picture (true, the default) or only sub, as
// providers following the spec's default for the code flow do; userinfo
// always has them.
func (p *OIDC) SetProfileInIDToken(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.profileInID = on
}

// SetUserinfoSub makes userinfo answer sub instead of the user's ("" undoes it).
func (p *OIDC) SetUserinfoSub(sub string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.userinfoSub = sub
}

// TamperNext spoils the next ID token the token endpoint issues.
func (p *OIDC) TamperNext(t Tamper) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = t
}

// SetDiscoveryDown makes the discovery document answer 503 (true) or
// serve again (false), as an issuer that is unreachable for a while.
func (p *OIDC) SetDiscoveryDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discoveryDown = down
}

func (p *OIDC) discovery(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	down := p.discoveryDown
	if !down {
		p.counts.Discovery++
	}
	p.mu.Unlock()
	if down {
		http.Error(w, "oauthtest: down", http.StatusServiceUnavailable)
		return
	}
	u := p.srv.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                u,
		"authorization_endpoint":                u + "/authorize",
		"token_endpoint":                        u + "/token",
		"userinfo_endpoint":                     u + "/userinfo",
		"jwks_uri":                              u + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"claims_supported":                      []string{"sub", "email", "email_verified", "name", "picture"},
	})
}

func (p *OIDC) jwks(w http.ResponseWriter, r *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (p *OIDC) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	auth, terr := p.exchange(r)
	if terr != nil {
		p.counts.Refused++
		writeJSON(w, terr.status, map[string]string{"error": terr.code, "error_description": terr.desc})
		return
	}
	now := p.now()
	claims := map[string]any{
		"iss": p.srv.URL, "sub": p.user.Sub, "aud": p.clientID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if auth.Nonce != "" {
		claims["nonce"] = auth.Nonce
	}
	if p.profileInID {
		claims["email"], claims["email_verified"] = p.user.Email, p.user.EmailVerified
		claims["name"], claims["picture"] = p.user.Name, p.user.Picture
	}
	key := p.key
	switch p.tamper {
	case WrongSignature:
		key = p.other
	case WrongAudience:
		claims["aud"] = "another-client"
	case WrongIssuer:
		claims["iss"] = "https://issuer.invalid"
	case WrongNonce:
		claims["nonce"] = "not-" + auth.Nonce
	case MissingNonce:
		delete(claims, "nonce")
	case Expired:
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	}
	alg := "RS256"
	if p.tamper == AlgNone {
		alg = "none"
	}
	p.tamper = TamperNone
	idToken, err := sign(key, alg, claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	t := Tokens{AccessToken: "at-" + rand.Text(), RefreshToken: "rt-" + rand.Text(), IDToken: idToken}
	p.accessTokens[t.AccessToken] = p.user
	p.issued = append(p.issued, t)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": t.AccessToken, "refresh_token": t.RefreshToken, "id_token": t.IDToken,
		"token_type": "Bearer", "expires_in": 3600, "scope": auth.Scope,
	})
}

func (p *OIDC) userinfo(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.accessTokens[bearer(r)]
	if !ok {
		p.counts.Refused++
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	p.counts.Userinfo++
	sub := u.Sub
	if p.userinfoSub != "" {
		sub = p.userinfoSub
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": sub, "email": u.Email, "email_verified": u.EmailVerified, "name": u.Name, "picture": u.Picture,
	})
}

// sign makes a compact RS256 JWS of claims. Verification is go-oidc's
// (through go-jose) in the code under test; this only has to produce what
// a real provider does.
// With alg "none" the token carries no signature.
func sign(key *rsa.PrivateKey, alg string, claims map[string]any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(header) + "." + b64(payload)
	if alg == "none" {
		return input + ".", nil
	}
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
