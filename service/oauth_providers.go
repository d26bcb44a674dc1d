package service

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Provider types, as stored in accounts.type and listed by Providers.
const (
	ProviderTypeOAuth = "oauth" // GitHub
	ProviderTypeOIDC  = "oidc"  // any OpenID Connect provider
)

// ProviderConfig configures one sign-in provider.
type ProviderConfig struct {
	// ID names the provider in routes and in accounts.provider: "github",
	// or an OIDC_PROVIDERS id.
	ID string
	// Type is ProviderTypeOAuth (GitHub) or ProviderTypeOIDC.
	Type string
	// Name is the display name.
	Name         string
	ClientID     string
	ClientSecret string
	// WebURL and APIURL are GitHub's web and API origins (GitHub
	// Enterprise Server has its own); empty means github.com.
	WebURL string
	APIURL string
	// Issuer is the OpenID Connect issuer, discovered at start-up.
	Issuer string
	// Scopes are the OpenID Connect scopes asked for; empty means
	// openid email profile.
	Scopes []string
}

// ProviderInfo is a provider as GET /v1/auth/providers lists it.
type ProviderInfo struct {
	ID   string
	Name string
	Type string
}

// providerTimeout bounds each call to a provider when Config.ProviderClient
// is nil.
const providerTimeout = 10 * time.Second

// maxProviderResponse bounds the body of every provider response read
// (discovery, keys, tokens, user info), so no provider can make the
// server read without end.
const maxProviderResponse = 1 << 20

// Backoff of OIDC discovery retries while an issuer is unreachable.
const (
	discoveryRetryMin = 500 * time.Millisecond
	discoveryRetryMax = time.Minute
)

// provider is one configured provider at run time.
type provider struct {
	cfg    ProviderConfig
	client *http.Client

	// For OIDC, discovery fills oauth and verifier (and closes ready
	// after its first attempt, whatever its outcome).
	ready    chan struct{}
	mu       sync.RWMutex
	oauth    *oauth2.Config
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// limitedBody caps a response body: reading past the limit fails instead
// of returning a truncated document that might parse.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, errors.New("provider response too large")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// limitTransport caps every response body at maxProviderResponse.
type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxProviderResponse}
	return resp, nil
}

// providerHTTPClient returns the client every provider call goes through:
// the configured one (with a timeout) or one with providerTimeout, and
// response bodies capped either way.
func providerHTTPClient(c *http.Client) *http.Client {
	out := &http.Client{Timeout: providerTimeout}
	if c != nil {
		// Redirects are followed as the given client would; no cookie jar.
		out = &http.Client{Transport: c.Transport, Timeout: c.Timeout, CheckRedirect: c.CheckRedirect}
		if out.Timeout == 0 {
			out.Timeout = providerTimeout
		}
	}
	next := out.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = limitTransport{next: next}
	return out
}

// newProviders builds the configured providers. OIDC discovery runs in the
// background, retried with backoff until it succeeds or ctx ends.
func (s *Service) newProviders(ctx context.Context) map[string]*provider {
	client := providerHTTPClient(s.cfg.ProviderClient)
	out := make(map[string]*provider, len(s.cfg.Providers))
	for _, pc := range s.cfg.Providers {
		p := &provider{cfg: pc, client: client, ready: make(chan struct{})}
		redirect := s.cfg.BaseURL + "/v1/auth/oauth/" + pc.ID + "/callback"
		switch pc.Type {
		case ProviderTypeOIDC:
			scopes := pc.Scopes
			if len(scopes) == 0 {
				scopes = []string{oidc.ScopeOpenID, "email", "profile"}
			}
			p.oauth = &oauth2.Config{ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
				RedirectURL: redirect, Scopes: scopes}
			go s.discover(ctx, p)
		default:
			web := strings.TrimRight(stringOr(pc.WebURL, "https://github.com"), "/")
			p.oauth = &oauth2.Config{ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
				RedirectURL: redirect, Scopes: []string{"read:user", "user:email"},
				Endpoint: oauth2.Endpoint{
					AuthURL: web + "/login/oauth/authorize", TokenURL: web + "/login/oauth/access_token",
					AuthStyle: oauth2.AuthStyleInParams,
				}}
			p.oidc = nil
			close(p.ready)
		}
		out[pc.ID] = p
	}
	return out
}

func stringOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// discover runs OIDC discovery for p until it succeeds, backing off
// between attempts; until then the provider answers unavailable.
func (s *Service) discover(ctx context.Context, p *provider) {
	longest := discoveryRetryMax
	if s.cfg.ProviderRetryMax > 0 {
		longest = s.cfg.ProviderRetryMax
	}
	wait := min(discoveryRetryMin, longest)
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), p.client.Timeout)
		op, err := oidc.NewProvider(dctx, p.cfg.Issuer)
		cancel()
		if err == nil {
			cfg := *p.oauth
			cfg.Endpoint = op.Endpoint()
			v := op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: s.now})
			p.mu.Lock()
			p.oauth, p.oidc, p.verifier = &cfg, op, v
			p.mu.Unlock()
			if attempt > 1 {
				s.log.Info("OIDC discovery succeeded", "provider", p.cfg.ID, "attempts", attempt)
			}
		} else {
			s.log.Warn("OIDC discovery failed; the provider answers unavailable until it succeeds",
				"provider", p.cfg.ID, "issuer", p.cfg.Issuer, "attempt", attempt, "retry_in", wait, "err", err)
		}
		if attempt == 1 {
			close(p.ready)
		}
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, longest)
	}
}

// errProviderUnavailable answers for an OIDC provider whose discovery has
// not succeeded yet.
func errProviderUnavailable() *Error {
	return &Error{Code: CodeUnavailable, Message: "This sign-in provider is not reachable right now; try again shortly.",
		RetryAfter: 5 * time.Second}
}

// provider returns the configured provider id, ready to use: the first
// discovery attempt of an OIDC provider is waited for (so a server that
// just started does not refuse a provider that answers).
// Errors: CodeNotFound, CodeUnavailable.
func (s *Service) provider(ctx context.Context, id string) (*provider, *oauth2.Config, error) {
	p, ok := s.providers[id]
	if !ok {
		return nil, nil, Errorf(CodeNotFound, "No such sign-in provider.")
	}
	select {
	case <-p.ready:
	case <-ctx.Done():
		return nil, nil, errProviderUnavailable()
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cfg.Type == ProviderTypeOIDC && p.verifier == nil {
		return nil, nil, errProviderUnavailable()
	}
	return p, p.oauth, nil
}

// Providers lists the configured sign-in providers, in configuration order.
func (s *Service) Providers() []ProviderInfo {
	out := make([]ProviderInfo, 0, len(s.cfg.Providers))
	for _, pc := range s.cfg.Providers {
		out = append(out, ProviderInfo{ID: pc.ID, Name: pc.Name, Type: pc.Type})
	}
	return out
}

// Close stops the service's background work (OIDC discovery retries).
func (s *Service) Close() {
	if s.stop != nil {
		s.stop()
	}
}
