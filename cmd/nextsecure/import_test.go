package main

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

//go:embed testdata/nextsecure-prisma.sql
var prismaDDL string

// bcryptHash hashes like the template's bcryptjs: cost 10, with the given
// version prefix ($2a$ or $2b$: the same algorithm).
func bcryptHash(t *testing.T, pw, prefix string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + strings.TrimPrefix(string(h), "$2a$")
}

// nextSecureSource is a database holding the template's tables, filled with
// an admin ($2a$), a user with a GitHub account ($2b$), an inactive user, a
// pending registration and a verification token.
func nextSecureSource(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := testdb.NewEmptyURL(t)
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctx, prismaDDL); err != nil {
		t.Fatal(err)
	}
	execSQL(t, conn, `INSERT INTO "User" (id, name, email, "emailVerified", "isActive", role, "createdAt", "updatedAt") VALUES
		('cladmin0000000000000000001', 'Ada Admin', 'admin@example.com', '2024-01-02 03:04:05.678', true, 'admin', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05.678'),
		('clalice0000000000000000002', 'Alice', 'Alice@Example.com', '2024-02-01 00:00:00', true, 'user', '2024-02-01 00:00:00', '2024-02-01 00:00:00'),
		('clinact0000000000000000003', 'Ian', 'inactive@example.com', NULL, false, 'user', '2024-03-01 00:00:00', '2024-03-01 00:00:00')`)
	execSQL(t, conn, `INSERT INTO "Credential" (id, "userId", "passwordHash", "updatedAt") VALUES
		('clcred00000000000000000001', 'cladmin0000000000000000001', $1, now()),
		('clcred00000000000000000002', 'clalice0000000000000000002', $2, now()),
		('clcred00000000000000000003', 'clinact0000000000000000003', $3, now())`,
		bcryptHash(t, "admin-password-1", "$2a$"), bcryptHash(t, "alice-password-2", "$2b$"), bcryptHash(t, "ian-password-3", "$2a$"))
	execSQL(t, conn, `INSERT INTO "Account" ("userId", type, provider, "providerAccountId", refresh_token, access_token, expires_at, token_type, scope, "updatedAt")
		VALUES ('clalice0000000000000000002', 'oauth', 'github', '4242', 'gh-refresh-secret', 'gho_access_secret', 1700000000, 'bearer', 'read:user,user:email', now())`)
	execSQL(t, conn, `INSERT INTO "Preregistration" (id, "fullName", email, "passwordHash") VALUES ('clpre', 'Pat', 'pat@example.com', 'x')`)
	execSQL(t, conn, `INSERT INTO "VerificationToken" (identifier, token, expires) VALUES ('pat@example.com', 'tok', now())`)
	return dsn, conn
}

func execSQL(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func runImport(ctx context.Context, dest string, args ...string) (string, error) {
	var stdout bytes.Buffer
	err := run(ctx, append([]string{"import"}, args...), mapEnv(map[string]string{"DATABASE_URL": dest, "AUTH_SECRET": testAuthSecret}),
		strings.NewReader(""), &stdout, &bytes.Buffer{})
	return stdout.String(), err
}

func countRows(t *testing.T, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantRow checks one line of the counts table.
func wantRow(t *testing.T, out, table string, counts ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == table {
			if got := strings.Join(f[1:], " "); got != strings.Join(counts, " ") {
				t.Errorf("%s counts = %s, want %s (read imported already skipped conflicts)\n%s", table, got, strings.Join(counts, " "), out)
			}
			return
		}
	}
	t.Errorf("no %s line in\n%s", table, out)
}

// An import keeps ids, roles, times and bcrypt hashes, so users sign in with
// their old passwords; GitHub tokens are sealed; pending registrations and
// verification tokens are counted, not carried over; a dry run writes
// nothing and a re-run changes nothing but picks up new rows.
func TestImportNextSecure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from, srcConn := nextSecureSource(t)
	dest := testdb.NewURL(t)
	destConn := connect(t, dest)

	out, err := runImport(ctx, dest, "--from", from, "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	wantRow(t, out, "User", "3", "3", "0", "0", "0")
	if n := countRows(t, destConn, "users"); n != 0 || !strings.Contains(out, "nothing was written") {
		t.Fatalf("dry run left %d users, printed\n%s", n, out)
	}

	out, err = runImport(ctx, dest, "--from", from)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	wantRow(t, out, "User", "3", "3", "0", "0", "0")
	wantRow(t, out, "Credential", "3", "3", "0", "0", "0")
	wantRow(t, out, "Account", "1", "1", "0", "0", "0")
	wantRow(t, out, "Preregistration", "1", "0", "0", "1", "0")
	wantRow(t, out, "VerificationToken", "1", "0", "0", "1", "0")
	if n := countRows(t, destConn, "preregistrations") + countRows(t, destConn, "verification_tokens"); n != 0 {
		t.Errorf("%d pending registrations and verification tokens carried over, want 0", n)
	}

	var role string
	var active bool
	var created, verified time.Time
	if err := destConn.QueryRow(ctx, `SELECT role, is_active, created_at, email_verified FROM users WHERE id = 'cladmin0000000000000000001'`).
		Scan(&role, &active, &created, &verified); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	if role != "admin" || !active || !created.Equal(want) || !verified.Equal(want) {
		t.Errorf("admin = role %q active %t created %v verified %v; want admin, active, both %v (UTC)", role, active, created, verified, want)
	}
	if err := destConn.QueryRow(ctx, `SELECT is_active FROM users WHERE id = 'clinact0000000000000000003'`).Scan(&active); err != nil || active {
		t.Errorf("inactive user is_active = %t, %v; want false", active, err)
	}

	// The imported users sign in over HTTP, through "nextsecure serve", with
	// the passwords they had in the template.
	srv := startServe(t, map[string]string{"DATABASE_URL": dest, "AUTH_SECRET": testAuthSecret})
	for _, c := range []struct {
		email, pw string
		want      int
	}{
		{"admin@example.com", "admin-password-1", http.StatusOK},
		{"alice@example.com", "alice-password-2", http.StatusOK},
		{"admin@example.com", "wrong", http.StatusUnauthorized},
	} {
		r := do(t, "POST", srv.URL+"/v1/auth/login", map[string]string{"email": c.email, "password": c.pw})
		if r.Status != c.want {
			t.Errorf("POST /v1/auth/login as %s = %d, want %d", c.email, r.Status, c.want)
		}
	}
	var hash string
	if err := destConn.QueryRow(ctx, `SELECT password_hash FROM credentials WHERE user_id = 'clalice0000000000000000002'`).Scan(&hash); err != nil || !strings.HasPrefix(hash, "$argon2id$") {
		t.Errorf("alice's hash after sign-in = %.12q, %v; want upgraded to argon2id", hash, err)
	}

	var access, refresh, linked string
	if err := destConn.QueryRow(ctx, `SELECT user_id, access_token, refresh_token FROM accounts WHERE provider = 'github' AND provider_account_id = '4242'`).
		Scan(&linked, &access, &refresh); err != nil {
		t.Fatal(err)
	}
	if linked != "clalice0000000000000000002" || !strings.HasPrefix(access, secrets.Prefix) || !strings.HasPrefix(refresh, secrets.Prefix) {
		t.Errorf("github account = user %q access %.12q refresh %.12q; want alice's, sealed", linked, access, refresh)
	}
	// Sealed under AUTH_SECRET for their row: reencrypt finds them current.
	var re bytes.Buffer
	if err := run(ctx, []string{"secrets", "reencrypt"}, mapEnv(map[string]string{"DATABASE_URL": dest, "AUTH_SECRET": testAuthSecret}),
		strings.NewReader(""), &re, &bytes.Buffer{}); err != nil || !strings.Contains(re.String(), "re-encrypted 0 value(s) under the first AUTH_SECRET; 2 already were") {
		t.Errorf("secrets reencrypt after import = %q, %v; want both tokens already current", re.String(), err)
	}

	// Again: nothing changes (alice's upgraded hash stays), a new user comes.
	execSQL(t, srcConn, `INSERT INTO "User" (id, email, "updatedAt") VALUES ('clnew00000000000000000004', 'new@example.com', now())`)
	out, err = runImport(ctx, dest, "--from", from)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, out)
	}
	wantRow(t, out, "User", "4", "1", "3", "0", "0")
	wantRow(t, out, "Credential", "3", "0", "3", "0", "0")
	wantRow(t, out, "Account", "1", "0", "1", "0", "0")
	var again string
	if err := destConn.QueryRow(ctx, `SELECT password_hash FROM credentials WHERE user_id = 'clalice0000000000000000002'`).Scan(&again); err != nil || again != hash {
		t.Errorf("re-run changed alice's hash")
	}
}

// Emails equal case-insensitively in the source fail the import before it
// writes, listing both ids, unless --skip-conflicts; so does a source user
// whose email belongs to a different nextsecure user.
func TestImportConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from, srcConn := nextSecureSource(t)
	execSQL(t, srcConn, `INSERT INTO "User" (id, email, "updatedAt") VALUES ('cldup00000000000000000009', 'ALICE@example.com', now())`)
	dest := testdb.NewURL(t)
	destConn := connect(t, dest)
	execSQL(t, destConn, `INSERT INTO users (id, email) VALUES ('mine', 'Admin@Example.COM')`)

	out, err := runImport(ctx, dest, "--from", from)
	if err == nil || !strings.Contains(err.Error(), "nothing was written") || strings.Contains(err.Error(), "\n") ||
		!strings.Contains(out, "alice@example.com: users clalice0000000000000000002, cldup00000000000000000009") {
		t.Fatalf("import with conflicts = %v, printed\n%s\nwant a one-line error and both ids listed", err, out)
	}
	if n := countRows(t, destConn, "users"); n != 1 {
		t.Fatalf("a failed import left %d users, want only the one there before", n)
	}

	out, err = runImport(ctx, dest, "--from", from, "--skip-conflicts")
	if err != nil {
		t.Fatalf("import --skip-conflicts: %v\n%s", err, out)
	}
	if !strings.Contains(out, "admin@example.com: users cladmin0000000000000000001 in the source, user mine in nextsecure") {
		t.Errorf("destination conflict not listed:\n%s", out)
	}
	wantRow(t, out, "User", "4", "1", "0", "3", "3")
	wantRow(t, out, "Credential", "3", "1", "0", "2", "0")
	wantRow(t, out, "Account", "1", "0", "0", "1", "0")
	var ids []string
	if err := destConn.QueryRow(ctx, `SELECT array_agg(id ORDER BY id) FROM users`).Scan(&ids); err != nil || strings.Join(ids, " ") != "clinact0000000000000000003 mine" {
		t.Errorf("users after --skip-conflicts = %v, %v; want the inactive user imported beside mine", ids, err)
	}
}

// A source without the template's tables is refused in one line, and
// nothing is written.
func TestImportNotNextSecure(t *testing.T) {
	t.Parallel()
	from := testdb.NewURL(t)
	dest := testdb.NewURL(t)
	_, err := runImport(context.Background(), dest, "--from", from)
	if err == nil || !strings.Contains(err.Error(), "not a Next Secure database") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("import from a nextsecure database = %v, want a one-line not a Next Secure database", err)
	}
	if n := countRows(t, connect(t, dest), "users"); n != 0 {
		t.Errorf("%d users written, want 0", n)
	}
	if _, err := runImport(context.Background(), dest); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Errorf("import without --from = %v", err)
	}
}

// Off a terminal, progress is a plain line per table with rows per second.
func TestImportProgressPlain(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := importProgress(&buf, func() time.Time { return clock })
	p("User", 0, 25000)
	clock = clock.Add(2 * time.Second)
	p("User", 5000, 25000)
	p("User", 10000, 25000)
	clock = clock.Add(3 * time.Second)
	p("User", 25000, 25000)
	if want := "User: 10000/25000 rows (5000 rows/s)\nUser: 25000/25000 rows (5000 rows/s)\n"; buf.String() != want {
		t.Errorf("progress = %q, want %q", buf.String(), want)
	}
}

// A source GitHub account already linked to a different nextsecure user is a
// conflict: the import fails unless --skip-conflicts, which leaves the link.
func TestImportAccountConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from, _ := nextSecureSource(t)
	dest := testdb.NewURL(t)
	destConn := connect(t, dest)
	execSQL(t, destConn, `INSERT INTO users (id, email) VALUES ('other', 'other@example.com')`)
	execSQL(t, destConn, `INSERT INTO accounts (user_id, type, provider, provider_account_id) VALUES ('other', 'oauth', 'github', '4242')`)

	out, err := runImport(ctx, dest, "--from", from)
	if err == nil || !strings.Contains(out, "github account 4242: user clalice0000000000000000002 in the source, user other in nextsecure") {
		t.Fatalf("import = %v, printed\n%s\nwant the account conflict listed and a failure", err, out)
	}
	if n := countRows(t, destConn, "users"); n != 1 {
		t.Fatalf("a failed import left %d users, want 1", n)
	}
	out, err = runImport(ctx, dest, "--from", from, "--skip-conflicts")
	if err != nil {
		t.Fatalf("import --skip-conflicts: %v\n%s", err, out)
	}
	wantRow(t, out, "User", "3", "3", "0", "0", "0")
	wantRow(t, out, "Account", "1", "0", "0", "1", "1")
	var owner string
	if err := destConn.QueryRow(ctx, `SELECT user_id FROM accounts WHERE provider_account_id = '4242'`).Scan(&owner); err != nil || owner != "other" {
		t.Errorf("github 4242 owner = %q, %v; want other", owner, err)
	}
}
