package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nextsecure/nextsecure/internal/secrets"
	"github.com/nextsecure/nextsecure/service"
)

// cmdSecret prints a new AUTH_SECRET value.
func cmdSecret(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("secret", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nextsecure secret\n\n"+
			"Prints a new AUTH_SECRET value (32 random bytes, base64url). To rotate, put it\n"+
			"in front of the current one, AUTH_SECRET=new,old, then run\n"+
			"\"nextsecure secrets reencrypt\" and drop the old value.")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("secret: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(stdout, secrets.Generate())
	return nil
}

// cmdSecrets runs "secrets reencrypt": every stored secret is sealed anew
// under the first AUTH_SECRET value.
func cmdSecrets(ctx context.Context, args []string, env lookup, stdout, stderr io.Writer) error {
	fs := newFlagSet("secrets reencrypt", stderr)
	dsn := fs.String("database-url", env("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	authSecret := env("AUTH_SECRET")
	// A Func flag shows no default in --help, so the secret is never printed.
	fs.Func("auth-secret", "comma-separated secrets: the first seals, all open (AUTH_SECRET)", func(v string) error {
		authSecret = v
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nextsecure secrets reencrypt [flags]\n\n"+
			"Seals every stored secret (provider tokens) under the first AUTH_SECRET value:\n"+
			"values under the others and plain text left by older versions. Safe to run\n"+
			"again and while the server runs.\n\nFlags:")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "reencrypt" {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return nil
		}
		return errors.New("secrets: want reencrypt")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is not set (or use --database-url)")
	}
	ks, err := parseAuthSecret(authSecret)
	if err != nil {
		return err
	}
	pool, err := openPool(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	cfg := service.DefaultConfig()
	cfg.Secrets = ks
	svc := service.New(pool, cfg, time.Now, newLogger(stderr))
	res, err := svc.ReencryptSecrets(ctx)
	if err != nil {
		return fmt.Errorf("secrets reencrypt: %w", err) // the cause too: this is for an operator
	}
	fmt.Fprintf(stdout, "re-encrypted %d value(s) under the first AUTH_SECRET; %d already were\n", res.Reencrypted, res.Current)
	if res.Failed > 0 {
		return fmt.Errorf("%d value(s) did not open and were left as they were: sealed under a value no longer in AUTH_SECRET, or altered (the log names them)", res.Failed)
	}
	return nil
}
