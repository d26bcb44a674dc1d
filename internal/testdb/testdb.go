// Package testdb gives each test a database of its own, cloned from a
// template that holds the latest schema, so tests can run in parallel.
//
// The server is TEST_DATABASE_URL when set (its user must be allowed to
// create databases), else the project's throwaway cluster (package devpg),
// started on first use. It never skips: without a server the test fails.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/internal/devpg"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/sql/schema"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
)

// ServerURL returns the URL of the server's maintenance database, starting
// the throwaway cluster if TEST_DATABASE_URL is unset.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u, err := server()
	if err != nil {
		tb.Fatalf("test database server: %v", err)
	}
	return u
}

func server() (string, error) {
	serverOnce.Do(func() {
		if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
			serverURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var c *devpg.Cluster
		if c, serverErr = devpg.Ensure(ctx, devpg.ProjectDir()); serverErr == nil {
			serverURL = c.URL("postgres")
		}
	})
	return serverURL, serverErr
}

// NewURL creates a fully migrated database holding no data for this test,
// dropped when the test ends, and returns its URL.
func NewURL(tb testing.TB) string {
	tb.Helper()
	u, drop, err := Create(context.Background())
	if err != nil {
		tb.Fatalf("test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return u
}

// Create makes a fully migrated database holding no data and returns its
// URL and a function that drops it. It is for callers without a testing.TB,
// such as TestMain and examples.
func Create(ctx context.Context) (dsn string, drop func() error, err error) {
	admin, err := server()
	if err != nil {
		return "", nil, err
	}
	tmpl, err := template(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("template database: %w", err)
	}
	name := "nstest_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		return "", nil, err
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
		return err
	}
	dsn, err = withDatabase(admin, name)
	return dsn, drop, err
}

// New returns a pool on a fresh migrated database for this test.
func New(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), NewURL(tb))
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// NewEmptyURL creates a database with no schema at all, for migration tests.
func NewEmptyURL(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin := ServerURL(tb)
	name := "nstest_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return WithDatabase(tb, admin, name)
}

// WithDatabase returns serverURL with its database name replaced.
func WithDatabase(tb testing.TB, serverURL, name string) string {
	tb.Helper()
	u, err := withDatabase(serverURL, name)
	if err != nil {
		tb.Fatalf("parse database URL: %v", err)
	}
	return u
}

func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

var (
	tmplMu    sync.Mutex
	tmplReady = map[string]bool{}
)

// template makes sure a database holding the current migrations (the
// project's and River's) exists and
// returns its name. The name carries a hash of the migrations, so a changed
// schema gets a new template; an advisory lock keeps test processes that
// start together from building it twice.
func template(ctx context.Context, admin string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(schema.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schema.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	// River's migrations come with the module: its version is part of the schema.
	fmt.Fprintf(h, "river:%d", migrate.RiverLatest())
	name := "nstmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	tmplMu.Lock()
	defer tmplMu.Unlock()
	if tmplReady[name] {
		return name, nil
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", name)

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		// Build under a temporary name and rename when complete, so a
		// crash halfway never leaves a half-migrated template behind.
		building := name + "_wip"
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
			return "", err
		}
		dsn, err := withDatabase(admin, building)
		if err != nil {
			return "", err
		}
		m, err := migrate.Open(dsn)
		if err != nil {
			return "", err
		}
		_, err = m.Up(ctx)
		m.Close()
		if err != nil {
			return "", err
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
			return "", err
		}
	}
	tmplReady[name] = true
	return name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
