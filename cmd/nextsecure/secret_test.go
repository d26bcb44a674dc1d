package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// "nextsecure secret" prints a new value that serve accepts.
func TestSecretCommand(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	if err := run(context.Background(), []string{"secret"}, mapEnv(nil), strings.NewReader(""), &a, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"secret"}, mapEnv(nil), strings.NewReader(""), &b, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	first := strings.TrimSuffix(a.String(), "\n")
	if first == strings.TrimSuffix(b.String(), "\n") || strings.Contains(first, "\n") {
		t.Errorf("secret printed %q then %q, want two different single lines", a.String(), b.String())
	}
	if _, err := parseAuthSecret(first); err != nil {
		t.Errorf("parseAuthSecret(%q) = %v, want nil", first, err)
	}
	if err := run(context.Background(), []string{"secret", "extra"}, mapEnv(nil), strings.NewReader(""), &a, &bytes.Buffer{}); err == nil {
		t.Error("secret with an argument = nil, want an error")
	}
}

// "secrets reencrypt" seals plain-text provider tokens, then finds them
// current; it needs DATABASE_URL and AUTH_SECRET.
func TestSecretsReencryptCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testdb.NewURL(t)
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, `INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO accounts (user_id, type, provider, provider_account_id, refresh_token, access_token)
		VALUES ('u1', 'oauth', 'github', '1', 'plain-refresh', 'plain-access')`); err != nil {
		t.Fatal(err)
	}
	reencrypt := func(env map[string]string) (string, error) {
		var stdout bytes.Buffer
		err := run(ctx, []string{"secrets", "reencrypt"}, mapEnv(env), strings.NewReader(""), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}
	env := map[string]string{"DATABASE_URL": dsn, "AUTH_SECRET": testAuthSecret}
	if out, err := reencrypt(env); err != nil || !strings.Contains(out, "re-encrypted 2 value(s)") {
		t.Fatalf("secrets reencrypt = %q, %v; want 2 values re-encrypted", out, err)
	}
	var access string
	if err := conn.QueryRow(ctx, `SELECT access_token FROM accounts`).Scan(&access); err != nil || !strings.HasPrefix(access, secrets.Prefix) {
		t.Errorf("access_token after reencrypt = %q, %v; want it sealed", access, err)
	}
	if out, err := reencrypt(env); err != nil || !strings.Contains(out, "re-encrypted 0 value(s) under the first AUTH_SECRET; 2 already were") {
		t.Errorf("secrets reencrypt again = %q, %v; want 0 re-encrypted, 2 already current", out, err)
	}
	// Under a secret that never sealed them, the values do not open: counted, left, and the command fails.
	other := map[string]string{"DATABASE_URL": dsn, "AUTH_SECRET": secrets.Generate()}
	if _, err := reencrypt(other); err == nil || !strings.Contains(err.Error(), "2 value(s) did not open") {
		t.Errorf("secrets reencrypt under another secret = %v, want 2 values that did not open", err)
	}

	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "no verb", args: []string{"secrets"}, wantErr: "want reencrypt"},
		{name: "bad verb", args: []string{"secrets", "rotate"}, wantErr: "want reencrypt"},
		{name: "no DATABASE_URL", args: []string{"secrets", "reencrypt"}, env: map[string]string{"AUTH_SECRET": testAuthSecret}, wantErr: "DATABASE_URL is not set"},
		{name: "no AUTH_SECRET", args: []string{"secrets", "reencrypt"}, env: map[string]string{"DATABASE_URL": dsn}, wantErr: "AUTH_SECRET is not set: `nextsecure secret`"},
		{name: "short AUTH_SECRET", args: []string{"secrets", "reencrypt"}, env: map[string]string{"DATABASE_URL": dsn, "AUTH_SECRET": "short"}, wantErr: "AUTH_SECRET: 5 bytes, want at least 32"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := run(ctx, tt.args, mapEnv(tt.env), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("run %q = %v, want one line containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// With BASE_URL https://Example.com:443 the browser's Origin is
// https://example.com: serve normalises BASE_URL, so a cookie-authenticated
// write from that origin is accepted (it was 403), and one from another
// origin is still refused.
func TestServeNormalisedBaseURLAcceptsBrowserOrigin(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	const pw = "correct horse battery staple"
	if err := run(context.Background(), []string{"users", "create", "--email", "ada@example.com", "--name", "Ada"},
		mapEnv(map[string]string{"DATABASE_URL": dsn}), strings.NewReader(pw+"\n"), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, map[string]string{"DATABASE_URL": dsn, "BASE_URL": "https://Example.com:443"})
	login := func() *http.Cookie {
		t.Helper()
		r := do(t, "POST", s.URL+"/v1/auth/login", map[string]string{"email": "ada@example.com", "password": pw})
		if r.Status != http.StatusOK {
			t.Fatalf("login = %d %s, want 200", r.Status, r.Body)
		}
		for _, c := range (&http.Response{Header: r.Header}).Cookies() {
			if c.Name == "session" {
				return c
			}
		}
		t.Fatalf("login set no session cookie: %v", r.Header)
		return nil
	}

	c := login()
	if r := do(t, "POST", s.URL+"/v1/auth/logout", nil, "Cookie", c.String(), "Origin", "https://evil.example"); r.Status != http.StatusForbidden {
		t.Errorf("cookie POST from https://evil.example = %d %s, want 403", r.Status, r.Body)
	}
	if r := do(t, "POST", s.URL+"/v1/auth/logout", nil, "Cookie", c.String(), "Origin", "https://example.com"); r.Status >= 300 {
		t.Errorf("cookie POST from https://example.com = %d %s, want success", r.Status, r.Body)
	}
}

// Help never shows AUTH_SECRET's value, whether it comes from the
// environment or .env.
func TestHelpHidesAuthSecret(t *testing.T) {
	t.Parallel()
	const secret = "do-not-print-me-do-not-print-me-0123"
	for _, args := range [][]string{{"serve", "--help"}, {"secrets", "reencrypt", "--help"}} {
		var stdout, stderr bytes.Buffer
		run(context.Background(), args, mapEnv(map[string]string{"AUTH_SECRET": secret}), strings.NewReader(""), &stdout, &stderr)
		if out := stdout.String() + stderr.String(); !strings.Contains(out, "AUTH_SECRET") || strings.Contains(out, secret) {
			t.Errorf("%q printed %q; want AUTH_SECRET named, its value not shown", args, out)
		}
	}
}
