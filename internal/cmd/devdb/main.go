// Command devdb manages the project's throwaway PostgreSQL cluster for
// development: "devdb start" starts it (creating it on first use) and prints
// the URL of its "nextsecure" database; "devdb stop" stops it; "devdb url"
// prints the URL without starting anything.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/internal/devpg"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devdb:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: devdb start|stop|url")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := devpg.Locate(devpg.ProjectDir())
	if err != nil {
		return err
	}
	switch args[0] {
	case "start":
		if err := c.Start(ctx); err != nil {
			return err
		}
		if err := ensureDatabase(ctx, c, "nextsecure"); err != nil {
			return err
		}
		fmt.Println(c.URL("nextsecure"))
	case "stop":
		return c.Stop(ctx)
	case "url":
		fmt.Println(c.URL("nextsecure"))
	default:
		return fmt.Errorf("unknown action %q: want start, stop or url", args[0])
	}
	return nil
}

func ensureDatabase(ctx context.Context, c *devpg.Cluster, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	}
	return err
}
