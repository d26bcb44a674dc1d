package main

import (
	"bytes"
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// A .env file in the working folder supplies settings the environment lacks.
// The test changes the working folder, so it cannot run in parallel.
func TestDotEnvInWorkingFolder(t *testing.T) {
	dsn := testdb.NewEmptyURL(t) // before Chdir: the test cluster is found from the working folder
	dir := t.TempDir()
	t.Chdir(dir)
	writeDotEnv := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	migrateUp := func(env map[string]string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"migrate", "up"}, mapEnv(env), strings.NewReader(""), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}

	writeDotEnv("# settings for development\nexport DATABASE_URL='" + dsn + "'\n")
	if out, err := migrateUp(nil); err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate up with DATABASE_URL from .env = %q, %v; want it applied", out, err)
	}
	if got := schemaVersion(t, dsn); got == 0 {
		t.Error("migrate up with DATABASE_URL from .env migrated nothing")
	}

	// The environment wins over the file.
	writeDotEnv("DATABASE_URL=postgres://nobody@127.0.0.1:1/none?connect_timeout=1\n")
	if _, err := migrateUp(map[string]string{"DATABASE_URL": dsn}); err != nil {
		t.Fatalf("migrate up with DATABASE_URL in the environment and a bad one in .env: %v", err)
	}

	writeDotEnv("DATABASE_URL\n")
	if _, err := migrateUp(nil); err == nil || !strings.Contains(err.Error(), ".env:1") {
		t.Fatalf("run with a malformed .env = %v, want an error naming .env:1", err)
	}
}

func TestReadDotEnv(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		content string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", content: "", want: map[string]string{}},
		{name: "plain", content: "A=1\nB = two \n", want: map[string]string{"A": "1", "B": "two"}},
		{name: "comments and blanks", content: "# c\n\n  # indented\nA=1\n", want: map[string]string{"A": "1"}},
		{name: "export", content: "export A=1\n", want: map[string]string{"A": "1"}},
		{name: "double quoted", content: `A="x # y"` + "\n", want: map[string]string{"A": "x # y"}},
		{name: "single quoted", content: "A='x=y'\n", want: map[string]string{"A": "x=y"}},
		{name: "equals in value", content: "URL=postgres://h/db?sslmode=disable\n", want: map[string]string{"URL": "postgres://h/db?sslmode=disable"}},
		{name: "unbalanced quote kept", content: `A="x` + "\n", want: map[string]string{"A": `"x`}},
		{name: "empty value", content: "A=\n", want: map[string]string{"A": ""}},
		{name: "CRLF", content: "A=1\r\nB=2\r\n", want: map[string]string{"A": "1", "B": "2"}},
		{name: "no equals", content: "A=1\nB\n", wantErr: ":2: want KEY=VALUE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readDotEnv(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readDotEnv = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("readDotEnv = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	got, err := readDotEnv(filepath.Join(t.TempDir(), "missing"))
	if err != nil || len(got) != 0 {
		t.Errorf("readDotEnv of a missing file = %v, %v; want empty, nil", got, err)
	}
}

// Every setting is checked before serve touches the database, and a bad one
// stops it with one line that starts with the setting's name.
func TestServeRefusesBadSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
		"AUTH_SECRET":  testAuthSecret,
	}
	for _, tt := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // the error's start
		secret  string // must not appear in the error
	}{
		{name: "no AUTH_SECRET", env: map[string]string{"AUTH_SECRET": ""}, wantErr: "AUTH_SECRET is not set: `nextsecure secret` prints a new one"},
		{name: "short AUTH_SECRET", env: map[string]string{"AUTH_SECRET": "hunter2hunter2"}, wantErr: "AUTH_SECRET: 14 bytes, want at least 32 (`nextsecure secret` prints a new one)", secret: "hunter2"},
		{name: "short old AUTH_SECRET", env: map[string]string{"AUTH_SECRET": testAuthSecret + ",hunter2"}, wantErr: "AUTH_SECRET: value 2 of 2: 7 bytes", secret: "hunter2"},
		{name: "short AUTH_SECRET flag", args: []string{"--auth-secret", "hunter2"}, wantErr: "AUTH_SECRET: 7 bytes", secret: "hunter2"},
		{name: "malformed VERIFY_TOKEN_TTL", env: map[string]string{"VERIFY_TOKEN_TTL": "1 day"}, wantErr: `VERIFY_TOKEN_TTL: want a duration of at least 1s such as 90s, 15m or 24h, got "1 day"`},
		{name: "unitless RESET_TOKEN_TTL", env: map[string]string{"RESET_TOKEN_TTL": "3600"}, wantErr: "RESET_TOKEN_TTL: want a duration"},
		{name: "zero MAGIC_LINK_TTL", env: map[string]string{"MAGIC_LINK_TTL": "0s"}, wantErr: "MAGIC_LINK_TTL: want a duration"},
		{name: "negative SESSION_TTL", env: map[string]string{"SESSION_TTL": "-1h"}, wantErr: "SESSION_TTL: want a duration"},
		{name: "sub-second SESSION_MAX_TTL", env: map[string]string{"SESSION_MAX_TTL": "999ms"}, wantErr: "SESSION_MAX_TTL: want a duration"},
		{name: "sub-second flag", args: []string{"--reset-token-ttl", "500ms"}, wantErr: `invalid value "500ms" for flag -reset-token-ttl: want a duration of at least 1s`},
		{name: "RATE_LIMITS", env: map[string]string{"RATE_LIMITS": "maybe"}, wantErr: `RATE_LIMITS: want on or off, got "maybe"`},
		{name: "PAGES", env: map[string]string{"PAGES": "none"}, wantErr: `PAGES: want on or off, got "none"`},
		{name: "BASE_URL path with pages", env: map[string]string{"BASE_URL": "https://example.com/auth"}, wantErr: `BASE_URL: has a path (/auth), which the browser pages do not support: set PAGES=off`},
		{name: "TRUSTED_PROXIES", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, banana"}, wantErr: `TRUSTED_PROXIES: not a CIDR: "banana"`},
		{name: "ADDR without port", env: map[string]string{"ADDR": "localhost"}, wantErr: `ADDR: want host:port`},
		{name: "ADDR bad port", env: map[string]string{"ADDR": ":99999"}, wantErr: `ADDR: port "99999"`},
		{name: "ADDR bad host", env: map[string]string{"ADDR": "exa mple:80"}, wantErr: `ADDR: host "exa mple"`},
		{name: "BASE_URL scheme", env: map[string]string{"BASE_URL": "ftp://example.com"}, wantErr: `BASE_URL: scheme "ftp", want http or https`},
		{name: "BASE_URL without scheme", env: map[string]string{"BASE_URL": "example.com"}, wantErr: `BASE_URL: want an absolute URL`},
		{name: "BASE_URL without host", env: map[string]string{"BASE_URL": "https:///path"}, wantErr: `BASE_URL: has no host`},
		{name: "BASE_URL with password", env: map[string]string{"BASE_URL": "https://ada:hunter2@example.com"}, wantErr: `BASE_URL: must not hold a user or password`, secret: "hunter2"},
		{name: "BASE_URL with query", env: map[string]string{"BASE_URL": "https://example.com/?a=1"}, wantErr: `BASE_URL: must not have a query`},
		{name: "BASE_URL with fragment", env: map[string]string{"BASE_URL": "https://example.com/#top"}, wantErr: `BASE_URL: must not have a fragment`},
		{name: "BASE_URL port", env: map[string]string{"BASE_URL": "https://example.com:0"}, wantErr: `BASE_URL: port "0" out of range`},
		{name: "BASE_URL path", env: map[string]string{"BASE_URL": "https://example.com/a//b"}, wantErr: `BASE_URL: path "/a//b" has an empty, . or .. segment`},
		{name: "BASE_URL flag", args: []string{"--base-url", "mailto:ada@example.com"}, wantErr: `BASE_URL: want an absolute URL`},
		{name: "EMAIL_FROM", env: map[string]string{"EMAIL_FROM": "no-reply"}, wantErr: `EMAIL_FROM: want an address such as`},
		{name: "EMAIL_FROM line break", env: map[string]string{"EMAIL_FROM": "a@example.com\r\nBcc: b@example.com"}, wantErr: `EMAIL_FROM: contains a line break or NUL`},
		{name: "EMAIL_SERVER scheme", env: map[string]string{"EMAIL_SERVER": "http://mail.example.com"}, wantErr: `EMAIL_SERVER: server URL scheme "http", want smtp or smtps`},
		{name: "EMAIL_SERVER host", env: map[string]string{"EMAIL_SERVER": "smtp://:25"}, wantErr: `EMAIL_SERVER: server URL has no host`},
		{name: "EMAIL_SERVER port", env: map[string]string{"EMAIL_SERVER": "smtp://ada:hunter2@mail.example.com:0"}, wantErr: `EMAIL_SERVER: server URL port "0" out of range`, secret: "hunter2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := maps.Clone(base)
			maps.Copy(env, tt.env)
			err := run(context.Background(), append([]string{"serve"}, tt.args...), mapEnv(env), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("serve = %v, want an error starting %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines, want one", err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q repeats the secret %q", err, tt.secret)
			}
		})
	}
}

// Every setting at its default, or at a good value, passes validation.
func TestConfigDefaultsAndGoodValues(t *testing.T) {
	t.Parallel()
	parse := func(env map[string]string, args ...string) (config, error) {
		var c config
		if err := c.load(mapEnv(env)); err != nil {
			return c, err
		}
		fs := newFlagSet("serve", &bytes.Buffer{})
		c.bind(fs, mapEnv(env))
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.validate()
	}
	c, err := parse(map[string]string{"DATABASE_URL": "postgres://localhost/x", "AUTH_SECRET": testAuthSecret})
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.VerifyTTL != 24*time.Hour || c.ResetTTL != time.Hour || c.MagicLinkTTL != 15*time.Minute ||
		c.SessionTTL != 720*time.Hour || c.SessionMaxTTL != 2160*time.Hour {
		t.Errorf("default lifetimes = %v %v %v %v %v, want 24h 1h 15m 720h 2160h", c.VerifyTTL, c.ResetTTL, c.MagicLinkTTL, c.SessionTTL, c.SessionMaxTTL)
	}
	if c.BaseURL != "http://localhost:8080" || c.Addr != "localhost:8080" || !c.RateLimits || !c.Pages || c.Secrets == nil {
		t.Errorf("defaults = %+v", c)
	}

	c, err = parse(map[string]string{
		"DATABASE_URL": "postgres://localhost/x", "AUTH_SECRET": testAuthSecret + "," + strings.Repeat("o", 32),
		"VERIFY_TOKEN_TTL": "1s", "RESET_TOKEN_TTL": "90s", "MAGIC_LINK_TTL": "5m", "SESSION_TTL": "1h30m", "SESSION_MAX_TTL": "8760h",
		"ADDR": "[::1]:0", "BASE_URL": "HTTPS://Auth.Example.COM:443/app/", "EMAIL_SERVER": "smtps://ada:p%40ss@mail.example.com",
		"EMAIL_FROM": "Ada <ada@example.com>", "TRUSTED_PROXIES": "10.0.0.0/8,::1", "RATE_LIMITS": "off",
		"PAGES": "off",
	}, "--session-ttl", "2h")
	if err != nil {
		t.Fatalf("good values: %v", err)
	}
	if c.VerifyTTL != time.Second || c.ResetTTL != 90*time.Second || c.MagicLinkTTL != 5*time.Minute ||
		c.SessionTTL != 2*time.Hour || c.SessionMaxTTL != 8760*time.Hour {
		t.Errorf("lifetimes = %v %v %v %v %v, want 1s 1m30s 5m 2h 8760h", c.VerifyTTL, c.ResetTTL, c.MagicLinkTTL, c.SessionTTL, c.SessionMaxTTL)
	}
	if c.RateLimits || c.Pages {
		t.Errorf("RATE_LIMITS=off PAGES=off gave %v %v, want both off", c.RateLimits, c.Pages)
	}
	if c.BaseURL != "https://auth.example.com/app" {
		t.Errorf("BASE_URL = %q, want https://auth.example.com/app", c.BaseURL)
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, wantErr string
	}{
		{in: "http://localhost:8080", want: "http://localhost:8080"},
		{in: "https://Example.com:443", want: "https://example.com"},
		{in: "https://example.com/", want: "https://example.com"},
		{in: "HTTPS://EXAMPLE.COM", want: "https://example.com"},
		{in: "http://example.com:80/", want: "http://example.com"},
		{in: "http://example.com:443", want: "http://example.com:443"},
		{in: "https://example.com:80", want: "https://example.com:80"},
		{in: "https://example.com:0443", want: "https://example.com"},
		{in: "https://example.com:8443/", want: "https://example.com:8443"},
		{in: "https://example.com/Auth/", want: "https://example.com/Auth"},
		{in: "https://example.com/a/b", want: "https://example.com/a/b"},
		{in: "https://example.com/a%20b", want: "https://example.com/a%20b"},
		{in: "  https://example.com  ", want: "https://example.com"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{in: "http://[::1]:8080/", want: "http://[::1]:8080"},
		{in: "https://[2001:DB8::1]:443", want: "https://[2001:db8::1]"},
		{in: "", wantErr: "want an absolute URL"},
		{in: "/app", wantErr: "want an absolute URL"},
		{in: "http:example.com", wantErr: "want an absolute URL"},
		{in: "ws://example.com", wantErr: `scheme "ws"`},
		{in: "https://", wantErr: "has no host"},
		{in: "https://:443", wantErr: "has no host"},
		{in: "https://user@example.com", wantErr: "user or password"},
		{in: "https://example.com?", wantErr: "query"},
		{in: "https://example.com/?a=b", wantErr: "query"},
		{in: "https://example.com#", wantErr: "fragment"},
		{in: "https://example.com:65536", wantErr: "out of range"},
		{in: "https://example.com:x", wantErr: "want an absolute URL"},
		{in: "https://exa_mple..com", wantErr: "not a host name"},
		{in: "https://bücher.example", wantErr: "xn--"},
		{in: "https://example.com/a/../b", wantErr: "segment"},
		{in: "https://[fe80::1%25eth0]", wantErr: "zone"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := normalizeBaseURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("normalizeBaseURL(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("normalizeBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			// Normalising is idempotent.
			if again, err := normalizeBaseURL(got); err != nil || again != got {
				t.Errorf("normalizeBaseURL(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}

// FuzzNormalizeBaseURL: never a panic; what it accepts is idempotent, has
// no trailing slash, and its origin is what browsers send.
func FuzzNormalizeBaseURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		got, err := normalizeBaseURL(in)
		if err != nil {
			return
		}
		if again, err := normalizeBaseURL(got); err != nil || again != got {
			t.Fatalf("normalizeBaseURL(%q) = %q, then %q, %v; want it unchanged", in, got, again, err)
		}
		if strings.HasSuffix(got, "/") || strings.ContainsAny(got, "?#@ ") {
			t.Fatalf("normalizeBaseURL(%q) = %q", in, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("normalizeBaseURL(%q) = %q, which does not parse: %v", in, got, err)
		}
		origin := u.Scheme + "://" + u.Host
		if origin != strings.ToLower(origin) || !strings.HasPrefix(got, origin) ||
			(u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			t.Fatalf("normalizeBaseURL(%q) = %q: origin %q is not a browser's", in, got, origin)
		}
	})
}
