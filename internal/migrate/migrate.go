// Package migrate applies nextsecure's embedded goose migrations and River's
// own (its job queue's tables) under one PostgreSQL advisory lock, so
// instances starting together do not race.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

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

// Up applies every pending migration, River's then the project's, and
// returns how many of the project's it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	if _, err := m.river(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return 0, fmt.Errorf("migrate up: river: %w", err)
	}
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
		if _, err := m.river(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1}); err != nil {
			return len(res), fmt.Errorf("migrate down: river: %w", err)
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

// RiverVersion returns the version of River's schema in the database (0
// when it has none) and the latest one this binary carries.
func (m *Migrator) RiverVersion(ctx context.Context) (current, latest int, err error) {
	migrator, err := newRiverMigrator()
	if err != nil {
		return 0, 0, err
	}
	err = m.withTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('river_migration') IS NOT NULL").Scan(&exists); err != nil || !exists {
			return err
		}
		have, err := migrator.ExistingVersionsTx(ctx, tx)
		if len(have) > 0 {
			current = have[len(have)-1].Version
		}
		return err
	})
	return current, RiverLatest(), err
}

// RiverLatest is the version of the newest River migration this binary carries.
func RiverLatest() int {
	migrator, err := newRiverMigrator()
	if err != nil {
		return 0
	}
	all := migrator.AllVersions()
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

func newRiverMigrator() (*rivermigrate.Migrator[pgx.Tx], error) {
	// A driver without a pool works on the transaction it is given.
	return rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
}

// river runs River's migrations, one transaction each (some use what the
// one before added), while holding goose's advisory lock (the session
// locker's key) on the same connection, so River's and the project's
// migrations never run side by side, here or in another instance. Down
// with TargetVersion -1 removes River's schema.
func (m *Migrator) river(ctx context.Context, dir rivermigrate.Direction, opts *rivermigrate.MigrateOpts) (int, error) {
	migrator, err := newRiverMigrator()
	if err != nil {
		return 0, err
	}
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int
	err = conn.Raw(func(driverConn any) error {
		c := driverConn.(*stdlib.Conn).Conn()
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
			return err
		}
		defer c.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lock.DefaultLockID)
		all := dir == rivermigrate.DirectionUp || (opts != nil && opts.TargetVersion == -1)
		for {
			var step int
			err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				res, err := migrator.MigrateTx(ctx, tx, dir, &rivermigrate.MigrateOpts{MaxSteps: 1})
				if res != nil {
					step = len(res.Versions)
				}
				return err
			})
			n += step
			if err != nil || step == 0 || !all {
				return err
			}
		}
	})
	return n, err
}

// withTx runs fn in a pgx transaction on one of the migrator's connections.
func (m *Migrator) withTx(ctx context.Context, fn func(pgx.Tx) error) error {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		return pgx.BeginFunc(ctx, driverConn.(*stdlib.Conn).Conn(), fn)
	})
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
