package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// config is every setting of the contract's configuration table.
type config struct {
	DatabaseURL    string
	Addr           string
	BaseURL        string
	EmailServer    string
	EmailFrom      string
	VerifyTTL      time.Duration
	ResetTTL       time.Duration
	MagicLinkTTL   time.Duration
	SessionTTL     time.Duration
	SessionMaxTTL  time.Duration
	RateLimits     bool
	Pages          bool // serve the browser pages (PAGES)
	TrustedProxies []netip.Prefix
	AuthSecret     string
	// Secrets is AUTH_SECRET parsed; validate sets it.
	Secrets        *secrets.Keyring
	AuditRetention time.Duration // how long auth_events are kept
	// Providers are the sign-in providers (GITHUB_*, OIDC_*); load sets them.
	Providers []service.ProviderConfig
}

// lookup reads a setting from the environment, then from the .env file.
type lookup func(name string) string

// newLookup layers the process environment over a .env file in the working
// folder (if any); the environment wins.
func newLookup(getenv func(string) string) (lookup, error) {
	file, err := readDotEnv(".env")
	if err != nil {
		return nil, err
	}
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return file[name]
	}, nil
}

// readDotEnv parses KEY=VALUE lines; blank lines and # comments are skipped,
// a leading "export " is allowed, and values may be single or double quoted.
func readDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[strings.TrimSpace(k)] = v
	}
	return vars, sc.Err()
}

// bind declares flags for the settings, defaulting to the environment.
func (c *config) bind(fs *flag.FlagSet, env lookup) {
	def := func(name, fallback string) string {
		if v := env(name); v != "" {
			return v
		}
		return fallback
	}
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	fs.StringVar(&c.Addr, "addr", def("ADDR", "localhost:8080"), "listen address (ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", def("BASE_URL", "http://localhost:8080"), "public origin for email links and cookie/Origin checks (BASE_URL)")
	fs.StringVar(&c.EmailServer, "email-server", env("EMAIL_SERVER"), "SMTP URL smtp://user:pass@host:port or smtps://...; unset logs each email (EMAIL_SERVER)")
	fs.StringVar(&c.EmailFrom, "email-from", def("EMAIL_FROM", "Next Secure <no-reply@localhost>"), "sender address (EMAIL_FROM)")
	fs.Func("verify-token-ttl", "verification token lifetime (VERIFY_TOKEN_TTL, default 24h)", durationFlag(&c.VerifyTTL))
	fs.Func("reset-token-ttl", "reset token lifetime (RESET_TOKEN_TTL, default 1h)", durationFlag(&c.ResetTTL))
	fs.Func("magic-link-ttl", "magic link lifetime (MAGIC_LINK_TTL, default 15m)", durationFlag(&c.MagicLinkTTL))
	fs.Func("session-ttl", "sliding session lifetime (SESSION_TTL, default 720h)", durationFlag(&c.SessionTTL))
	fs.Func("session-max-ttl", "absolute session lifetime from sign-in (SESSION_MAX_TTL, default 2160h)", durationFlag(&c.SessionMaxTTL))
	// A Func flag shows no default in --help, so the secret is never printed.
	fs.Func("auth-secret", "at least 32 bytes that encrypt stored secrets; comma-separated values rotate (AUTH_SECRET; prefer the environment or .env: a flag shows in the process list)", func(v string) error {
		c.AuthSecret = v
		return nil
	})
	fs.Func("rate-limits", "'off' disables every limit, for benchmarks only (RATE_LIMITS, default on)", onOff(&c.RateLimits))
	fs.Func("pages", "'off' removes the browser pages, when another frontend serves BASE_URL (PAGES, default on)", onOff(&c.Pages))
	fs.Func("trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed (TRUSTED_PROXIES)", func(s string) error {
		return c.setTrustedProxies(s)
	})
	fs.Func("audit-retention", "how long the audit trail is kept (AUDIT_RETENTION, default 9600h: 400 days)", durationFlag(&c.AuditRetention))
}

// load fills the settings that flags parse through functions from the
// environment; flags given on the command line override them afterwards.
func (c *config) load(env lookup) error {
	c.VerifyTTL, c.ResetTTL, c.SessionTTL, c.RateLimits = 24*time.Hour, time.Hour, 720*time.Hour, true
	c.MagicLinkTTL, c.SessionMaxTTL, c.AuditRetention = 15*time.Minute, 2160*time.Hour, 400*24*time.Hour
	c.AuthSecret = env("AUTH_SECRET")
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"VERIFY_TOKEN_TTL", &c.VerifyTTL}, {"RESET_TOKEN_TTL", &c.ResetTTL}, {"SESSION_TTL", &c.SessionTTL},
		{"MAGIC_LINK_TTL", &c.MagicLinkTTL}, {"SESSION_MAX_TTL", &c.SessionMaxTTL},
		{"AUDIT_RETENTION", &c.AuditRetention},
	} {
		if v := env(d.name); v != "" {
			if err := durationFlag(d.dst)(v); err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	c.Pages = true
	if err := onOff(&c.RateLimits)(env("RATE_LIMITS")); err != nil {
		return fmt.Errorf("RATE_LIMITS: %w", err)
	}
	if err := onOff(&c.Pages)(env("PAGES")); err != nil {
		return fmt.Errorf("PAGES: %w", err)
	}
	if err := c.setTrustedProxies(env("TRUSTED_PROXIES")); err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	var err error
	c.Providers, err = loadProviders(env)
	return err
}

// durationFlag parses a lifetime: any Go duration from 1s (the emails
// state lifetimes in whole seconds at least).
func durationFlag(dst *time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < time.Second {
			return fmt.Errorf("want a duration of at least 1s such as 90s, 15m or 24h, got %q", s)
		}
		*dst = d
		return nil
	}
}

// onOff parses a switch into dst; empty leaves it as it is.
func onOff(dst *bool) func(string) error {
	return func(s string) error {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "":
		case "on", "true", "1":
			*dst = true
		case "off", "false", "0":
			*dst = false
		default:
			return fmt.Errorf("want on or off, got %q", s)
		}
		return nil
	}
}

func (c *config) setTrustedProxies(s string) error {
	c.TrustedProxies = nil
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			addr, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return fmt.Errorf("not a CIDR: %q", part)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

// validate checks, after flags are parsed, the settings that load and the
// flags do not, and normalises BASE_URL. Each error is one line that names
// the setting.
func (c *config) validate() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (or use --database-url)")
	}
	if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err) // as openPool says it; pgx hides the password
	}
	ks, err := parseAuthSecret(c.AuthSecret)
	if err != nil {
		return err
	}
	c.Secrets = ks
	if err := checkAddr(c.Addr); err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	if c.BaseURL, err = normalizeBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("BASE_URL: %w", err)
	}
	if u, _ := url.Parse(c.BaseURL); c.Pages && u.Path != "" {
		// The pages link and redirect to absolute paths.
		return fmt.Errorf("BASE_URL: has a path (%s), which the browser pages do not support: set PAGES=off, or serve nextsecure at the root of an origin", u.Path)
	}
	if strings.ContainsAny(c.EmailFrom, "\r\n\x00") {
		return errors.New("EMAIL_FROM: contains a line break or NUL")
	}
	if _, err := netmail.ParseAddress(c.EmailFrom); err != nil {
		return fmt.Errorf("EMAIL_FROM: want an address such as \"Next Secure <no-reply@example.com>\", got %q", c.EmailFrom)
	}
	if c.EmailServer != "" {
		if _, err := mail.NewSMTP(c.EmailServer, c.EmailFrom); err != nil {
			// The mail package's errors never include the password.
			return fmt.Errorf("EMAIL_SERVER: %s", strings.TrimPrefix(err.Error(), "mail: "))
		}
	}
	return nil
}

// parseAuthSecret reads AUTH_SECRET; its errors say how to make one.
func parseAuthSecret(s string) (*secrets.Keyring, error) {
	ks, err := secrets.Parse(s)
	if errors.Is(err, secrets.ErrNotSet) {
		return nil, errors.New("AUTH_SECRET is not set: `nextsecure secret` prints a new one to put in the environment or .env")
	}
	if err != nil {
		return nil, fmt.Errorf("AUTH_SECRET: %v (`nextsecure secret` prints a new one)", err)
	}
	return ks, nil
}

// checkAddr accepts host:port where host is empty, an IP address or a
// host name, and port a number or service name.
func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as localhost:8080 or :8080, got %q", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("port %q is not a port number", port)
	}
	if host != "" && !validHostname(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q is neither an IP address nor a host name", host)
		}
	}
	return nil
}

// validHostname reports whether h is a DNS name in ASCII: letters, digits,
// hyphens and dots, no empty label.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// normalizeBaseURL returns BASE_URL in the form a browser's Origin header
// takes, plus an optional path: scheme and host in lower case, without the
// scheme's default port, without a trailing slash. So that the Origin
// check compares equal strings, "https://Example.com:443/" becomes
// "https://example.com". It refuses anything but http and https, a missing
// host, a user or password, a query and a fragment.
func normalizeBaseURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || !u.IsAbs() {
		return "", fmt.Errorf("want an absolute URL such as https://auth.example.com, got %q", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("scheme %q, want http or https", u.Scheme)
	}
	if u.User != nil {
		return "", errors.New("must not hold a user or password")
	}
	if strings.Contains(s, "?") {
		return "", fmt.Errorf("must not have a query, got %q", raw)
	}
	if strings.Contains(s, "#") {
		return "", fmt.Errorf("must not have a fragment, got %q", raw)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", fmt.Errorf("has no host, got %q", raw)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("host %q has a zone", host)
		}
		if ip.Is6() {
			host = "[" + host + "]"
		}
	} else if !validHostname(host) {
		return "", fmt.Errorf("host %q is not a host name (write an international name in its xn-- form)", u.Hostname())
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q out of range", p)
		}
		if !(scheme == "http" && n == 80 || scheme == "https" && n == 443) {
			host += ":" + strconv.Itoa(n)
		}
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	for seg := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		if path != "" && (seg == "" || seg == "." || seg == "..") {
			return "", fmt.Errorf("path %q has an empty, . or .. segment", u.Path)
		}
	}
	return scheme + "://" + host + path, nil
}
