package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/testdb"
	"github.com/nextsecure/nextsecure/sql/schema"
)

func TestMigrateUpStatusDownUp(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewEmptyURL(t)
	env := mapEnv(map[string]string{"DATABASE_URL": dsn})
	migrations, err := fs.Glob(schema.FS, "*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatalf("embedded migrations: %v, %v", migrations, err)
	}
	latest := migrate.Latest()
	migrateCmd := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"migrate"}, args...), env, strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("migrate %s: %v; stderr:\n%s", strings.Join(args, " "), err, &stderr)
		}
		return stdout.String()
	}

	river := fmt.Sprintf("river job queue schema at version %d of %d\n", migrate.RiverLatest(), migrate.RiverLatest())
	if got, want := migrateCmd("up"), fmt.Sprintf("applied %d migration(s); schema at version %d\n", len(migrations), latest)+river; got != want {
		t.Errorf("migrate up printed %q, want %q", got, want)
	}
	if got := schemaVersion(t, dsn); got != latest {
		t.Errorf("schema version after migrate up = %d, want %d", got, latest)
	}
	if got, want := migrateCmd("up"), fmt.Sprintf("applied 0 migration(s); schema at version %d\n", latest)+river; got != want {
		t.Errorf("second migrate up printed %q, want %q", got, want)
	}

	status := strings.Split(strings.TrimSuffix(migrateCmd("status"), "\n"), "\n")
	if last := status[len(status)-1]; last+"\n" != river {
		t.Errorf("migrate status ends with %q, want %q", last, river)
	}
	status = status[:len(status)-1]
	if len(status) != len(migrations) {
		t.Fatalf("migrate status printed %d lines, want %d:\n%s", len(status), len(migrations), strings.Join(status, "\n"))
	}
	for i, line := range status {
		if !strings.Contains(line, migrations[i]) || !strings.Contains(line, " applied ") {
			t.Errorf("status line %d = %q, want %s applied", i, line, migrations[i])
		}
	}

	if got, want := migrateCmd("down"), "rolled back 1 migration(s)\n"; got != want {
		t.Errorf("migrate down printed %q, want %q", got, want)
	}
	if got := schemaVersion(t, dsn); got != latest-1 {
		t.Errorf("schema version after migrate down = %d, want %d", got, latest-1)
	}
	if got := migrateCmd("status"); strings.Count(got, "pending") != 1 {
		t.Errorf("migrate status after one down lists %d pending, want 1:\n%s", strings.Count(got, "pending"), got)
	}

	if got, want := migrateCmd("down", "--all"), fmt.Sprintf("rolled back %d migration(s)\n", len(migrations)-1); got != want {
		t.Errorf("migrate down --all printed %q, want %q", got, want)
	}
	if got := publicTables(t, dsn); len(got) != 1 || got[0] != "goose_db_version" {
		t.Errorf("after migrate down --all the tables are %v, want only goose_db_version", got)
	}
	if got := migrateCmd("status"); strings.Count(got, "pending") != len(migrations) ||
		!strings.Contains(got, fmt.Sprintf("river job queue schema at version 0 of %d\n", migrate.RiverLatest())) {
		t.Errorf("migrate status after down --all:\n%s\nwant every migration pending and no River schema", got)
	}

	migrateCmd("up")
	if got := schemaVersion(t, dsn); got != latest {
		t.Errorf("schema version after up, down --all, up = %d, want %d", got, latest)
	}
}

func TestMigrateBadVerb(t *testing.T) {
	t.Parallel()
	dsn := testdb.NewEmptyURL(t)
	err := run(context.Background(), []string{"migrate", "sideways"},
		mapEnv(map[string]string{"DATABASE_URL": dsn}), strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "sideways") {
		t.Fatalf("migrate sideways = %v, want an error naming the verb", err)
	}
	if got := publicTables(t, dsn); len(got) != 0 {
		t.Errorf("a bad verb left tables %v, want none", got)
	}
}

// publicTables lists the tables of the public schema, sorted.
func publicTables(tb testing.TB, dsn string) []string {
	tb.Helper()
	rows, err := connect(tb, dsn).Query(context.Background(),
		"SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return names
}
