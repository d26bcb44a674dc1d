package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/testdb"
)

// TestUsersResetMFA: the operator's reset turns two-factor off, kills the
// recovery codes, is audited, and queues the owner's notice; an unknown
// email is an error.
func TestUsersResetMFA(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewURL(t)
	env := mapEnv(map[string]string{"DATABASE_URL": dsn})
	users := func(stdin string, args ...string) (string, error) {
		t.Helper()
		var stdout bytes.Buffer
		err := run(context.Background(), append([]string{"users"}, args...), env, strings.NewReader(stdin), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}
	if _, err := users("a long enough password\n", "create", "--email", "mfa@example.com", "--name", "Mfa"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, `
		INSERT INTO user_mfa (user_id, secret, enabled_at) SELECT id, 'sealed', now() FROM users WHERE email = 'mfa@example.com';
		INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT id, '\x01' FROM users WHERE email = 'mfa@example.com'`); err != nil {
		t.Fatal(err)
	}
	out, err := users("", "reset-mfa", "--email", "MFA@example.com")
	if err != nil || !strings.Contains(out, "mfa@example.com mfa=off") {
		t.Fatalf("users reset-mfa = %q, %v", out, err)
	}
	var on bool
	var codes, events, jobs int
	if err := conn.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM user_mfa WHERE enabled_at IS NOT NULL OR secret IS NOT NULL),
		       (SELECT count(*) FROM mfa_recovery_codes),
		       (SELECT count(*) FROM auth_events WHERE type = 'mfa_reset' AND detail = 'by operator'),
		       (SELECT count(*) FROM river_job WHERE kind = 'mfa_reset')`).Scan(&on, &codes, &events, &jobs); err != nil {
		t.Fatal(err)
	}
	if on || codes != 0 || events != 1 || jobs != 1 {
		t.Fatalf("after reset: mfa on %v, %d recovery codes, %d mfa_reset events, %d notice jobs; want off, 0, 1, 1", on, codes, events, jobs)
	}
	if _, err := users("", "reset-mfa", "--email", "nobody@example.com"); err == nil {
		t.Fatalf("reset-mfa of an unknown email succeeded")
	}
}
