// Command nextsecure runs the nextsecure authentication service, its
// migrations and its administration tasks.
//
//	nextsecure serve [flags]            run the HTTP server
//	nextsecure migrate up|down|status   manage the database schema
//	nextsecure users create|set-role    manage users
//	nextsecure secret                   print a new AUTH_SECRET
//	nextsecure secrets reencrypt        seal stored secrets under the first AUTH_SECRET
//	nextsecure import --from URL        copy a Next Secure template's database in
//	nextsecure version                  print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "nextsecure:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is the process's exit status for run's result: 0 for success and
// for a help request, 1 for any failure.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

const usage = `nextsecure: an authentication service on PostgreSQL

Usage:
  nextsecure serve [--no-migrate] [flags]     run the HTTP server
  nextsecure migrate up|down|status [flags]   manage the database schema
  nextsecure users create --email E --name N [--role admin]   (password on standard input)
  nextsecure users set-role --email E --role R
  nextsecure secret                           print a new AUTH_SECRET
  nextsecure secrets reencrypt [flags]        seal stored secrets under the first AUTH_SECRET
  nextsecure import --from URL [--schema public] [--dry-run] [--skip-conflicts]
                                              copy a Next Secure template's database in
  nextsecure version

Run "nextsecure COMMAND --help" for a command's flags. Every flag can also be
set in the environment or in a .env file in the working folder.
`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	env, err := newLookup(getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], env, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], env, stdout, stderr)
	case "users":
		return cmdUsers(ctx, args[1:], env, stdin, stdout, stderr)
	case "secret":
		return cmdSecret(args[1:], stdout, stderr)
	case "secrets":
		return cmdSecrets(ctx, args[1:], env, stdout, stderr)
	case "import":
		return cmdImport(ctx, args[1:], env, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "nextsecure", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// version is the module version, or the VCS revision of a development build.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return "devel-" + s.Value
		}
	}
	return "(devel)"
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("nextsecure "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
