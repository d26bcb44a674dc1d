package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/service"
)

// cmdImport runs "import": a Next Secure template's database is copied into
// the one at DATABASE_URL, migrated first.
func cmdImport(ctx context.Context, args []string, env lookup, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	dsn := fs.String("database-url", env("DATABASE_URL"), "PostgreSQL connection string (DATABASE_URL)")
	from := fs.String("from", "", "the Next Secure template's PostgreSQL connection string")
	schemaName := fs.String("schema", "public", "the schema holding the template's tables")
	dryRun := fs.Bool("dry-run", false, "report what would be imported, write nothing")
	skip := fs.Bool("skip-conflicts", false, "import the rest when some users conflict")
	authSecret := env("AUTH_SECRET")
	fs.Func("auth-secret", "comma-separated secrets: the first seals provider tokens (AUTH_SECRET)", func(v string) error {
		authSecret = v
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: nextsecure import --from URL [--schema public] [--dry-run] [--skip-conflicts]\n\n"+
			"Copies users, passwords (bcrypt, upgraded at first sign-in) and provider accounts\n"+
			"from a Next Secure template's database into DATABASE_URL. Safe to run again.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("import: unexpected argument %q", fs.Arg(0))
	}
	if *from == "" {
		return errors.New("import: --from is not set")
	}
	if *dsn == "" {
		return errors.New("DATABASE_URL is not set (or use --database-url)")
	}
	ks, err := parseAuthSecret(authSecret)
	if err != nil {
		return err
	}
	src, err := pgx.Connect(ctx, *from)
	if err != nil {
		return fmt.Errorf("import: --from: %w", err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	pool, err := openPool(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := migrate.FromPool(pool)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	m.Close()
	if err != nil {
		return err
	}
	cfg := service.DefaultConfig()
	cfg.Secrets = ks
	svc := service.New(pool, cfg, time.Now, newLogger(stderr))
	rep, err := svc.ImportNextSecure(ctx, src, service.ImportInput{
		Schema: *schemaName, DryRun: *dryRun, SkipConflicts: *skip, Progress: importProgress(stderr, time.Now),
	})
	for _, line := range rep.ConflictLines {
		fmt.Fprintln(stdout, "conflict:", line)
	}
	if len(rep.Counts) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "table\tread\timported\talready there\tskipped\tconflicts\t")
		for _, c := range rep.Counts {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", c.Table, c.Read, c.Imported, c.Already, c.Skipped, c.Conflicts)
		}
		tw.Flush()
	}
	if err != nil {
		if errors.Is(err, service.ErrNotNextSecure) {
			return fmt.Errorf("import: %w", err)
		}
		if e := service.AsError(err); e.Code == service.CodeConflict {
			return errors.New("import: " + e.Message)
		}
		return fmt.Errorf("import: %w", err)
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing was written")
	}
	return nil
}

// importProgress shows the copy's progress on w: a bar with rows per second
// when w is a terminal, else a plain line per table at its end and every
// 10,000 rows, for logs.
func importProgress(w io.Writer, now func() time.Time) func(table string, done, total int64) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(table string, done, total int64) {
			if done == 0 {
				bar = progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription(fmt.Sprintf("%-17s", table)),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("rows"),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
				)
				return
			}
			_ = bar.Set64(done)
		}
	}
	var start time.Time
	return func(table string, done, total int64) {
		if done == 0 {
			start = now()
			return
		}
		if done == total || done%10000 == 0 {
			rate := float64(done) / max(now().Sub(start).Seconds(), 1e-3)
			fmt.Fprintf(w, "%s: %d/%d rows (%.0f rows/s)\n", table, done, total, rate)
		}
	}
}
