package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nextsecure/nextsecure/internal/migrate"
)

func cmdMigrate(ctx context.Context, args []string, env lookup, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate up|down|status", stderr)
	dsn := fs.String("database-url", env("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	all := fs.Bool("all", false, "with down: roll back every migration")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nextsecure migrate up|down|status [flags]\n\n"+
			"  up      apply every pending migration (River's job queue's too)\n"+
			"  down    roll back the latest migration (--all: every one, and River's)\n"+
			"  status  list migrations and whether each is applied\n\nFlags:")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fs.Usage()
		if len(args) == 0 {
			return errors.New("migrate: want up, down or status")
		}
		return nil
	}
	verb := args[0]
	if verb != "up" && verb != "down" && verb != "status" {
		fs.Usage()
		return fmt.Errorf("migrate: unknown action %q (want up, down or status)", verb)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is not set (or use --database-url)")
	}
	m, err := migrate.Open(*dsn)
	if err != nil {
		return err
	}
	defer m.Close()
	switch verb {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s); schema at version %d\n", n, migrate.Latest())
		if err := printRiver(ctx, stdout, m); err != nil {
			return err
		}
	case "down":
		n, err := m.Down(ctx, *all)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back %d migration(s)\n", n)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.State == "applied" {
				state = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(stdout, "%05d  %-40s %s\n", s.Source.Version, s.Source.Path, state)
		}
		if err := printRiver(ctx, stdout, m); err != nil {
			return err
		}
	}
	return nil
}

// printRiver prints the version of River's schema (the job queue's tables,
// migrated with the project's).
func printRiver(ctx context.Context, w io.Writer, m *migrate.Migrator) error {
	cur, latest, err := m.RiverVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "river job queue schema at version %d of %d\n", cur, latest)
	return nil
}
