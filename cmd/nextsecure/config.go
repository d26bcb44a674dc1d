package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
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
	SessionTTL     time.Duration
	RateLimits     bool
	TrustedProxies []netip.Prefix
	AuditRetention time.Duration // how long auth_events are kept
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
	fs.Func("session-ttl", "sliding session lifetime (SESSION_TTL, default 720h)", durationFlag(&c.SessionTTL))
	fs.Func("rate-limits", "'off' disables every limit, for benchmarks only (RATE_LIMITS, default on)", func(s string) error {
		return c.setRateLimits(s)
	})
	fs.Func("trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed (TRUSTED_PROXIES)", func(s string) error {
		return c.setTrustedProxies(s)
	})
	fs.Func("audit-retention", "how long the audit trail is kept (AUDIT_RETENTION, default 9600h: 400 days)", durationFlag(&c.AuditRetention))
}

// load fills the settings that flags parse through functions from the
// environment; flags given on the command line override them afterwards.
func (c *config) load(env lookup) error {
	c.VerifyTTL, c.ResetTTL, c.SessionTTL, c.RateLimits = 24*time.Hour, time.Hour, 720*time.Hour, true
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"VERIFY_TOKEN_TTL", &c.VerifyTTL}, {"RESET_TOKEN_TTL", &c.ResetTTL}, {"SESSION_TTL", &c.SessionTTL}} {
		if v := env(d.name); v != "" {
			if err := durationFlag(d.dst)(v); err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
		}
	}
	if err := c.setRateLimits(env("RATE_LIMITS")); err != nil {
		return fmt.Errorf("RATE_LIMITS: %w", err)
	}
	if err := c.setTrustedProxies(env("TRUSTED_PROXIES")); err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	c.AuditRetention = 400 * 24 * time.Hour
	if v := env("AUDIT_RETENTION"); v != "" {
		if err := durationFlag(&c.AuditRetention)(v); err != nil {
			return fmt.Errorf("AUDIT_RETENTION: %w", err)
		}
	}
	return nil
}

func durationFlag(dst *time.Duration) func(string) error {
	return func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		if d <= 0 {
			return errors.New("must be positive")
		}
		*dst = d
		return nil
	}
}

func (c *config) setRateLimits(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "on", "true", "1":
		c.RateLimits = true
	case "off", "false", "0":
		c.RateLimits = false
	default:
		return fmt.Errorf("want on or off, got %q", s)
	}
	return nil
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
