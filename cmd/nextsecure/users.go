package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nextsecure/nextsecure/service"
)

func cmdUsers(ctx context.Context, args []string, env lookup, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "set-role" && args[0] != "reset-mfa") {
		fmt.Fprintln(stderr, "Usage:\n  nextsecure users create --email E --name N [--role admin]   (password on standard input)\n  nextsecure users set-role --email E --role R\n  nextsecure users reset-mfa --email E   (turns two-factor off: a lost device; the owner is told by mail)")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errors.New("users: want create or set-role, or reset-mfa")
	}
	verb := args[0]
	fs := newFlagSet("users "+verb, stderr)
	dsn := fs.String("database-url", env("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	email := fs.String("email", "", "the account's email")
	role := fs.String("role", "", "user or admin")
	var name *string
	if verb == "create" {
		name = fs.String("name", "", "the account's name")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is not set (or use --database-url)")
	}
	pool, err := openPool(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg := service.DefaultConfig()
	svc := service.New(pool, cfg, time.Now, nil)

	var user service.User
	switch verb {
	case "create":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		user, err = svc.CreateUser(ctx, service.NewUserInput{Email: *email, Name: *name, Role: *role, Password: pw})
		if err != nil {
			return describe(err)
		}
	case "set-role":
		if user, err = svc.SetRoleByEmail(ctx, *email, *role); err != nil {
			return describe(err)
		}
	case "reset-mfa":
		if user, err = svc.ResetMFAByEmail(ctx, *email); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "%s %s mfa=off\n", user.ID, user.Email)
		return nil
	}
	fmt.Fprintf(stdout, "%s %s role=%s active=%t\n", user.ID, user.Email, user.Role, user.IsActive)
	return nil
}

// readPassword reads one line from standard input, never a flag, so the
// password stays out of process listings and shell history. Only the line
// ending is removed: the password is used exactly as typed.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

// describe turns a validation error into one line naming its fields.
func describe(err error) error {
	e := service.AsError(err)
	if len(e.Fields) == 0 {
		return errors.New(e.Message)
	}
	var parts []string
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return errors.New(strings.Join(parts, "; "))
}
