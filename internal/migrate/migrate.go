// Package migrate applies nextsecure's embedded goose migrations under a
// PostgreSQL advisory lock, so instances starting together do not race.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/nextsecure/nextsecure/sql/schema"
)

// Migrator runs migrations against one database.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// Open prepares a migrator for the database at dsn. Close releases it.
func Open(dsn string) (*Migrator, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	return newMigrator(db)
}

// FromPool prepares a migrator that borrows connections from pool.
func FromPool(pool *pgxpool.Pool) (*Migrator, error) {
	return newMigrator(stdlib.OpenDBFromPool(pool))
}

func newMigrator(db *sql.DB) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker(
		// Poll every 2 s for up to 5 minutes while another instance migrates.
		lock.WithLockTimeout(2, 150),
	)
	if err != nil {
		db.Close()
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, schema.FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Migrator{db: db, provider: p}, nil
}

// Close releases the migrator's connections.
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	return len(res), nil
}

// Down rolls back the latest migration; with all set, every migration.
func (m *Migrator) Down(ctx context.Context, all bool) (int, error) {
	if all {
		res, err := m.provider.DownTo(ctx, 0)
		if err != nil {
			return len(res), fmt.Errorf("migrate down: %w", err)
		}
		return len(res), nil
	}
	if _, err := m.provider.Down(ctx); err != nil {
		return 0, fmt.Errorf("migrate down: %w", err)
	}
	return 1, nil
}

// Versions returns the database's schema version and the latest one known.
func (m *Migrator) Versions(ctx context.Context) (current, latest int64, err error) {
	return m.provider.GetVersions(ctx)
}

// Status lists each migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	return m.provider.Status(ctx)
}

// Latest is the version of the newest embedded migration.
func Latest() int64 {
	names, _ := fs.Glob(schema.FS, "*.sql")
	var latest int64
	for _, name := range names {
		digits, _, _ := strings.Cut(name, "_")
		if v, err := strconv.ParseInt(digits, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}
