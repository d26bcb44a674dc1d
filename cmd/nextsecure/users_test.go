package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	env := mapEnv(map[string]string{"DATABASE_URL": dsn})
	users := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var stdout bytes.Buffer
		err := run(context.Background(), append([]string{"users"}, args...), env, strings.NewReader(stdin), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}
	const pw = "correct horse battery staple"

	out, err := users(pw+"\n", "create", "--email", "Ada@Example.com", "--name", "Ada", "--role", "admin")
	if err != nil {
		t.Fatalf("users create: %v", err)
	}
	if !strings.Contains(out, "ada@example.com role=admin active=true") {
		t.Errorf("users create printed %q, want the account with role=admin active=true", out)
	}
	type account struct {
		Role        string
		Active      bool
		Verified    bool
		HasPassword bool
	}
	lookup := func(email string) account {
		t.Helper()
		var a account
		err := connect(t, dsn).QueryRow(context.Background(), `
			SELECT u.role, u.is_active, u.email_verified IS NOT NULL,
			       EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = u.id)
			FROM users u WHERE u.email = $1`, email).Scan(&a.Role, &a.Active, &a.Verified, &a.HasPassword)
		if err != nil {
			t.Fatalf("account %s: %v", email, err)
		}
		return a
	}
	if got, want := lookup("ada@example.com"), (account{Role: "admin", Active: true, Verified: true, HasPassword: true}); got != want {
		t.Errorf("created account = %+v, want %+v", got, want)
	}

	// The password read from standard input is the one that signs in.
	s := startServe(t, map[string]string{"DATABASE_URL": dsn})
	if r := do(t, "POST", s.URL+"/v1/auth/login", map[string]string{"email": "ada@example.com", "password": pw}); r.Status != 200 {
		t.Errorf("login with the created password = %d %s, want 200", r.Status, r.Body)
	}

	for _, tt := range []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
	}{
		{"common password", "password123\n", []string{"create", "--email", "bob@example.com", "--name", "Bob"}, "password"},
		{"short password", "short\n", []string{"create", "--email", "bob@example.com", "--name", "Bob"}, "password"},
		{"no password", "", []string{"create", "--email", "bob@example.com", "--name", "Bob"}, "no password on standard input"},
		{"bad email", pw, []string{"create", "--email", "not-an-email", "--name", "Bob"}, "email"},
		{"bad role", pw, []string{"create", "--email", "bob@example.com", "--name", "Bob", "--role", "root"}, "role"},
		{"existing email", pw, []string{"create", "--email", "ADA@example.com", "--name", "Ada"}, "already exists"},
		{"set-role unknown email", "", []string{"set-role", "--email", "nobody@example.com", "--role", "user"}, "No account has that email"},
		{"set-role bad role", "", []string{"set-role", "--email", "ada@example.com", "--role", "root"}, "role"},
		{"set-role last admin", "", []string{"set-role", "--email", "ada@example.com", "--role", "user"}, "last active admin"},
		{"password as a flag", pw, []string{"create", "--email", "bob@example.com", "--name", "Bob", "--password", pw}, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := users(tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("users %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines, want one", err)
			}
		})
	}
	var n int
	if err := connect(t, dsn).QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the refused commands there are %d users (%v), want 1", n, err)
	}

	// A second admin lets the first step down.
	if _, err := users(pw+"\r\n", "create", "--email", "bob@example.com", "--name", "Bob"); err != nil {
		t.Fatalf("users create bob: %v", err)
	}
	if got := lookup("bob@example.com").Role; got != "user" {
		t.Errorf("bob's role = %q, want user (the default)", got)
	}
	if _, err := users("", "set-role", "--email", "bob@example.com", "--role", "admin"); err != nil {
		t.Fatalf("set-role bob admin: %v", err)
	}
	out, err = users("", "set-role", "--email", "ADA@example.com", "--role", "user")
	if err != nil {
		t.Fatalf("set-role ada user: %v", err)
	}
	if !strings.Contains(out, "role=user") {
		t.Errorf("set-role printed %q, want role=user", out)
	}
	if a, b := lookup("ada@example.com").Role, lookup("bob@example.com").Role; a != "user" || b != "admin" {
		t.Errorf("roles = ada %q, bob %q; want user, admin", a, b)
	}
	// The line ending is not part of the password.
	if r := do(t, "POST", s.URL+"/v1/auth/login", map[string]string{"email": "bob@example.com", "password": pw}); r.Status != 200 {
		t.Errorf("login with the password given with CRLF = %d %s, want 200", r.Status, r.Body)
	}
}
