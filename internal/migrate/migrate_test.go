package migrate_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// seedColumns are the Next Secure template's fields, by table, in snake_case.
var seedColumns = map[string][]string{
	"users":               {"id", "name", "email", "email_verified", "image", "is_active", "role", "created_at", "updated_at"},
	"accounts":            {"user_id", "type", "provider", "provider_account_id", "refresh_token", "access_token", "expires_at", "token_type", "scope", "id_token", "session_state", "created_at", "updated_at"},
	"verification_tokens": {"identifier", "token", "expires", "created_at"},
	"preregistrations":    {"id", "full_name", "email", "password_hash", "created_at", "expires_at"},
	"credentials":         {"id", "user_id", "password_hash", "created_at", "updated_at"},
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testdb.NewEmptyURL(t)
	m, err := migrate.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	applied, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(migrate.Latest()); applied != want {
		t.Fatalf("applied %d migrations, want %d", applied, want)
	}
	for table, want := range seedColumns {
		got := columns(t, conn, table)
		for _, col := range want {
			if !slices.Contains(got, col) {
				t.Errorf("table %s lacks column %s (has %v)", table, col, got)
			}
		}
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("second up: %v", err)
	}

	if _, err := m.Down(ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := userTables(t, conn); len(got) != 1 || got[0] != "goose_db_version" {
		t.Fatalf("after down to zero, tables %v remain; want only goose_db_version", got)
	}
	var funcs int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'").Scan(&funcs); err != nil {
		t.Fatal(err)
	}
	if funcs != 0 {
		t.Fatalf("after down to zero, %d functions remain", funcs)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	cur, latest, err := m.Versions(ctx)
	if err != nil || cur != latest || latest != migrate.Latest() {
		t.Fatalf("versions = %d, %d, %v; want %d, %d", cur, latest, err, migrate.Latest(), migrate.Latest())
	}
}

func TestEmailUniqueCaseInsensitive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	if _, err := pool.Exec(ctx, "INSERT INTO users (id, email) VALUES ('u1', 'alice@example.com')"); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, "INSERT INTO users (id, email) VALUES ('u2', 'Alice@Example.com')")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second insert: got %v, want unique violation 23505", err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO preregistrations (id, full_name, email, password_hash) VALUES ('p1', 'A', 'bob@example.com', 'h')"); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, "INSERT INTO preregistrations (id, full_name, email, password_hash) VALUES ('p2', 'B', 'BOB@example.com', 'h')")
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("second preregistration: got %v, want unique violation 23505", err)
	}
}

func TestDeleteUserCascades(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	for _, q := range []string{
		"INSERT INTO users (id, email) VALUES ('u1', 'alice@example.com')",
		"INSERT INTO credentials (id, user_id, password_hash) VALUES ('c1', 'u1', 'h')",
		"INSERT INTO accounts (user_id, type, provider, provider_account_id) VALUES ('u1', 'oauth', 'github', '42')",
		"DELETE FROM users WHERE id = 'u1'",
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, table := range []string{"credentials", "accounts"} {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s has %d rows after deleting the user, want 0", table, n)
		}
	}
}

func TestUpdatedAtKeptByDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	if _, err := pool.Exec(ctx, "INSERT INTO users (id, email, updated_at) VALUES ('u1', 'a@example.com', now() - interval '1 day')"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE users SET name = 'A' WHERE id = 'u1'"); err != nil {
		t.Fatal(err)
	}
	var fresh bool
	if err := pool.QueryRow(ctx, "SELECT updated_at > now() - interval '1 minute' FROM users WHERE id = 'u1'").Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	if !fresh {
		t.Fatal("updated_at was not moved by the update")
	}
}

func columns(t *testing.T, conn *pgx.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1", table)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func userTables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestConcurrentUpIncludesRiver: instances starting together each run Up;
// River's migrations run under goose's advisory lock, so none fails and
// both schemas end at their latest versions.
func TestConcurrentUpIncludesRiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testdb.NewEmptyURL(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			m, err := migrate.Open(dsn)
			if err != nil {
				errs <- err
				return
			}
			defer m.Close()
			_, err = m.Up(ctx)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent up: %v", err)
		}
	}
	m, err := migrate.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cur, latest, err := m.RiverVersion(ctx)
	if err != nil || cur != latest || latest != migrate.RiverLatest() || latest == 0 {
		t.Errorf("river version = %d of %d (%v), want %d of %d", cur, latest, err, migrate.RiverLatest(), migrate.RiverLatest())
	}
	if cur, latest, err := m.Versions(ctx); err != nil || cur != latest {
		t.Errorf("schema version = %d of %d (%v), want the latest", cur, latest, err)
	}
}
