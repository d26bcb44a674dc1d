package service

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/nextsecure/nextsecure/internal/oauthtest"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

func TestRedirectPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want string // "" means refused
	}{
		{"", "/"},
		{"/", "/"},
		{"/account", "/account"},
		{"/a/b?c=d&e=f#g", "/a/b?c=d&e=f#g"},
		{"/a//b", "/a//b"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"},
		{"/caf\u00e9", "/caf\u00e9"},
		{"//evil.example", ""},
		{"///evil.example", ""},
		{"/\\evil.example", ""},
		{"\\/evil.example", ""},
		{"/a\\b", ""},
		{"https://evil.example/", ""},
		{"http:/evil.example", ""},
		{"javascript:alert(1)", ""},
		{"evil.example", ""},
		{"account", ""},
		{"/\t/evil.example", ""},
		{"/\n/evil.example", ""},
		{"/\r/evil.example", ""},
		{" /account", ""},
		{"/a b", ""},
		{"/a\x00", ""},
		{"/a\u2028", ""},
		{"/\xff", ""},
		{"/" + strings.Repeat("a", 2048), ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := RedirectPath(tt.in)
			if tt.want == "" {
				if ok {
					t.Fatalf("RedirectPath(%q) = %q, accepted; want it refused", tt.in, got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("RedirectPath(%q) = %q, %t; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}

// FuzzRedirectPath: whatever RedirectPath accepts, appended to BASE_URL,
// stays on BASE_URL's origin, also once a browser has dropped the tabs and
// line breaks it ignores and read backslashes as slashes.
func FuzzRedirectPath(f *testing.F) {
	for _, s := range []string{"/", "/account", "//evil", "/\\evil", "/\t/evil", "https://evil", "/a?b#c", "/%2f%2fevil"} {
		f.Add(s)
	}
	const base = "https://app.example.com/auth"
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := RedirectPath(in)
		if !ok {
			return
		}
		if got == "" || got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("RedirectPath(%q) = %q", in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' {
				t.Fatalf("RedirectPath(%q) = %q, with %q", in, got, r)
			}
		}
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(base + got)
		u, err := url.Parse(browser)
		if err != nil || u.Scheme != "https" || u.Host != "app.example.com" || u.User != nil {
			t.Fatalf("RedirectPath(%q) = %q: %q leaves the origin (%v)", in, got, browser, err)
		}
	})
}

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newOAuthService returns a service with a GitHub provider (which needs no
// discovery) on a fresh database, and its clock.
func newOAuthService(t *testing.T) (*Service, *clock) {
	t.Helper()
	ks, err := secrets.Parse(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.BaseURL = "https://app.example.com"
	cfg.Secrets = ks
	cfg.Providers = []ProviderConfig{{ID: "github", Type: ProviderTypeOAuth, Name: "GitHub",
		ClientID: "client-1", ClientSecret: "secret-1", WebURL: "https://ghe.example.com"}}
	c := &clock{t: time.Now()}
	svc := New(testdb.New(t), cfg, c.now, nil)
	t.Cleanup(svc.Close)
	return svc, c
}

func TestStartOAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newOAuthService(t)

	start, err := svc.StartOAuth(ctx, "github", "/after?x=1")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(start.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != "https://ghe.example.com/login/oauth/authorize" {
		t.Errorf("authorization URL %q, want GITHUB_URL's /login/oauth/authorize", start.URL)
	}
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "client-1", "code_challenge_method": "S256",
		"redirect_uri": "https://app.example.com/v1/auth/oauth/github/callback", "scope": "read:user user:email",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if len(q.Get("state")) < 43 || len(q.Get("code_challenge")) != 43 || len(start.Binding) < 43 {
		t.Errorf("state %q, code_challenge %q, binding %q: want 256-bit values", q.Get("state"), q.Get("code_challenge"), start.Binding)
	}

	// Stored: hashes of the state and the binding, the verifier sealed.
	var id, binding []byte
	var verifier, redirectTo string
	var expires time.Time
	err = svc.pool.QueryRow(ctx, `SELECT id, binding_hash, verifier, redirect_to, expires_at FROM oauth_flows`).
		Scan(&id, &binding, &verifier, &redirectTo, &expires)
	if err != nil {
		t.Fatal(err)
	}
	if string(id) != string(hashToken(q.Get("state"))) || string(binding) != string(hashToken(start.Binding)) {
		t.Error("flow row does not hold the hashes of state and binding")
	}
	if !secrets.IsSealed(verifier) || redirectTo != "/after?x=1" {
		t.Errorf("verifier sealed %t, redirect_to %q; want sealed, /after?x=1", secrets.IsSealed(verifier), redirectTo)
	}
	if d := expires.Sub(svc.now()); d != oauthFlowTTL {
		t.Errorf("flow expires in %v, want %v", d, oauthFlowTTL)
	}

	if _, err := svc.StartOAuth(ctx, "gitlab", "/"); ErrorCode(err) != CodeNotFound {
		t.Errorf("unknown provider: %v, want not_found", err)
	}
	if _, err := svc.StartOAuth(ctx, "github", "//evil.example"); ErrorCode(err) != CodeValidation {
		t.Errorf("redirectTo //evil.example: %v, want validation_failed", err)
	}
}

// A flow is finished once, only from the browser that started it (a
// callback from elsewhere does not use it up), and only within its
// lifetime; expired flows are purged. (The exchange itself is
// tested end to end against the fake providers; a refusal at the provider
// stops before it.)
func TestFinishOAuthFlowChecks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, clk := newOAuthService(t)
	begin := func() (state, binding string) {
		t.Helper()
		start, err := svc.StartOAuth(ctx, "github", "")
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(start.URL)
		return u.Query().Get("state"), start.Binding
	}
	finish := func(state, binding, errParam string) Code {
		t.Helper()
		_, err := svc.FinishOAuth(ctx, "github", OAuthCallback{State: state, Binding: binding, Error: errParam}, Meta{})
		if err == nil {
			t.Fatal("FinishOAuth succeeded")
		}
		return CallbackCode(err)
	}

	// A callback from another browser fails and leaves the flow (and the
	// cookie) to the browser that started it.
	state, binding := begin()
	_, other := begin()
	for _, tt := range []struct{ name, binding string }{
		{"no flow cookie", ""}, {"another flow's cookie", other}, {"a forged cookie", binding + "x"},
	} {
		_, err := svc.FinishOAuth(ctx, "github", OAuthCallback{State: state, Binding: tt.binding, Error: "access_denied"}, Meta{})
		if CallbackCode(err) != CodeOAuthFailed || FlowConsumed(err) {
			t.Errorf("%s: %v (consumed %t), want oauth_failed, not consumed", tt.name, err, FlowConsumed(err))
		}
	}
	if _, err := svc.FinishOAuth(ctx, "github", OAuthCallback{State: "unknown", Binding: binding}, Meta{}); CallbackCode(err) != CodeOAuthFailed || FlowConsumed(err) {
		t.Errorf("unknown state: %v (consumed %t), want oauth_failed, not consumed", err, FlowConsumed(err))
	}
	_, err := svc.FinishOAuth(ctx, "github", OAuthCallback{State: state, Binding: binding, Error: "access_denied"}, Meta{})
	if CallbackCode(err) != CodeOAuthDenied || !FlowConsumed(err) {
		t.Errorf("access_denied from the right browser after the others: %v (consumed %t), want oauth_denied, consumed",
			err, FlowConsumed(err))
	}
	if got := finish(state, binding, "access_denied"); got != CodeOAuthFailed {
		t.Errorf("replayed state: %s, want oauth_failed", got)
	}

	if got := finish("", binding, ""); got != CodeOAuthFailed {
		t.Errorf("missing state: %s, want oauth_failed", got)
	}
	if _, err := svc.FinishOAuth(ctx, "gitlab", OAuthCallback{State: "x", Binding: "y"}, Meta{}); CallbackCode(err) != CodeOAuthFailed {
		t.Errorf("unknown provider: %v, want oauth_failed", err)
	}

	state, binding = begin()
	clk.add(oauthFlowTTL)
	if got := finish(state, binding, "access_denied"); got != CodeOAuthFailed {
		t.Errorf("expired flow: %s, want oauth_failed", got)
	}
	if err := svc.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := svc.pool.QueryRow(ctx, `SELECT count(*) FROM oauth_flows`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d flows left after Purge, want 0", left)
	}
}

// An OIDC issuer that does not answer at start-up leaves its provider
// unavailable, not the service; discovery is retried in the background
// and the provider works once it succeeds.
func TestOIDCDiscoveryRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	idp := oauthtest.NewOIDC(t, "client-1", "secret-1")
	idp.SetDiscoveryDown(true)
	ks, err := secrets.Parse(newSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Secrets = ks
	cfg.ProviderClient = idp.Client()
	cfg.Providers = []ProviderConfig{{ID: "corp", Type: ProviderTypeOIDC, Name: "Corp",
		ClientID: "client-1", ClientSecret: "secret-1", Issuer: idp.Issuer()}}
	svc := New(testdb.New(t), cfg, nil, nil)
	t.Cleanup(svc.Close)

	if _, err := svc.StartOAuth(ctx, "corp", "/"); ErrorCode(err) != CodeUnavailable {
		t.Fatalf("start while discovery fails: %v, want unavailable", err)
	}
	if got := svc.Providers(); len(got) != 1 || got[0] != (ProviderInfo{ID: "corp", Name: "Corp", Type: "oidc"}) {
		t.Errorf("Providers() = %+v, want corp listed while unavailable", got)
	}
	idp.SetDiscoveryDown(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		start, err := svc.StartOAuth(ctx, "corp", "/")
		if err == nil {
			u, _ := url.Parse(start.URL)
			if u.Query().Get("nonce") == "" || !strings.Contains(u.Query().Get("scope"), "openid") {
				t.Errorf("authorization URL %q lacks nonce or openid scope", start.URL)
			}
			return
		}
		if ErrorCode(err) != CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("start after the issuer came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProviderName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"Ada Lovelace", "Ada Lovelace"},
		{"  Ada \t Lovelace\n", "Ada Lovelace"},
		{"Eve\x00Nul", "Eve Nul"},
		{"Right\u202eLeft", "Right Left"},
		{"bad\xffbyte", "bad byte"},
		{strings.Repeat("é", 300), strings.Repeat("é", 100)},
		{"   ", ""},
		{"", ""},
	} {
		got := providerName(tt.in)
		if (got == nil) != (tt.want == "") || (got != nil && *got != tt.want) {
			t.Errorf("providerName(%q) = %v, want %q", tt.in, deref(got), tt.want)
		}
	}
}

// Provider responses are read up to 1 MiB; a longer one fails to read
// instead of filling memory.
func TestProviderResponsesCapped(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Write(bytes.Repeat([]byte("a"), n))
	}))
	t.Cleanup(srv.Close)
	c := providerHTTPClient(nil)
	if c.Timeout != providerTimeout {
		t.Errorf("timeout %v, want %v", c.Timeout, providerTimeout)
	}
	for _, tt := range []struct {
		n      int
		wantOK bool
	}{{0, true}, {maxProviderResponse, true}, {maxProviderResponse + 1, false}, {4 * maxProviderResponse, false}} {
		resp, err := c.Get(srv.URL + "?n=" + strconv.Itoa(tt.n))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if (err == nil) != tt.wantOK || (tt.wantOK && len(body) != tt.n) {
			t.Errorf("%d bytes: read %d, %v; want ok %t", tt.n, len(body), err, tt.wantOK)
		}
	}
}
