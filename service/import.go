package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ImportInput says where a Next Secure template's tables are and how to
// treat conflicts.
type ImportInput struct {
	// Schema holds the template's tables ("public" when empty).
	Schema string
	// DryRun does the whole import in a transaction that is rolled back.
	DryRun bool
	// SkipConflicts imports the rest when some source users conflict,
	// instead of failing before anything is written.
	SkipConflicts bool
	// Progress, when set, is called while a source table is copied: with
	// done 0 at its start, every progressEvery rows, and at its end.
	Progress func(table string, done, total int64)
}

// progressEvery is how many rows pass between two Progress calls.
const progressEvery = 1000

// ImportCount counts one source table's rows.
type ImportCount struct {
	Table     string
	Read      int64
	Imported  int64
	Already   int64 // already in nextsecure, left as they are
	Skipped   int64 // not imported: their user conflicted, or the table is not carried over
	Conflicts int64
}

// ImportReport is what ImportNextSecure did, per source table, and the
// conflicts it found, one line each.
type ImportReport struct {
	Counts        []ImportCount
	ConflictLines []string
}

// ErrNotNextSecure is returned when the source lacks the template's tables.
var ErrNotNextSecure = errors.New("not a Next Secure database")

// ImportNextSecure copies a Next Secure template's "User", "Credential" and
// "Account" tables from src into nextsecure, in one transaction: rows are
// streamed with COPY into temporary staging tables (provider tokens sealed
// under AUTH_SECRET on the way), then inserted set-based with ON CONFLICT DO
// NOTHING, so running it again changes nothing already there and picks up
// new rows. "Preregistration" and "VerificationToken" rows are counted, not
// carried over. Emails equal case-insensitively within the source, or equal
// to a different nextsecure user's, are conflicts: the import fails before
// writing (CodeConflict, with the report) unless SkipConflicts. A source
// without the template's tables gives ErrNotNextSecure.
func (s *Service) ImportNextSecure(ctx context.Context, srcConn *pgx.Conn, in ImportInput) (ImportReport, error) {
	// One snapshot of the source, so a credential never arrives without its
	// user and the counts agree with what was copied.
	src, err := srcConn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return ImportReport{}, fmt.Errorf("source: %w", err)
	}
	defer src.Rollback(ctx) //nolint:errcheck // read only
	schema := in.Schema
	if schema == "" {
		schema = "public"
	}
	tbl := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	var rep ImportReport

	var missing []string
	for _, name := range []string{"User", "Credential", "Account"} {
		var ok bool
		if err := src.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, tbl(name)).Scan(&ok); err != nil {
			return rep, fmt.Errorf("source: %w", err)
		}
		if !ok {
			missing = append(missing, `"`+name+`"`)
		}
	}
	if len(missing) > 0 {
		return rep, fmt.Errorf("%w: schema %q has no %s table", ErrNotNextSecure, schema, strings.Join(missing, ", "))
	}

	// Conflicts within the source are found before anything is written.
	rows, err := src.Query(ctx, `SELECT lower(email), array_agg(id ORDER BY id) FROM `+tbl("User")+
		` GROUP BY lower(email) HAVING count(*) > 1 ORDER BY 1`)
	if err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	for rows.Next() {
		var email string
		var ids []string
		if err := rows.Scan(&email, &ids); err != nil {
			return rep, fmt.Errorf("source: %w", err)
		}
		rep.ConflictLines = append(rep.ConflictLines, fmt.Sprintf("%s: users %s in the source", email, strings.Join(ids, ", ")))
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("source: %w", err)
	}
	if len(rep.ConflictLines) > 0 && !in.SkipConflicts {
		return rep, Errorf(CodeConflict, "%d email(s) are equal case-insensitively in the source; nothing was written (--skip-conflicts imports the rest)", len(rep.ConflictLines))
	}
	rep.ConflictLines = nil // listed again below, with the destination's

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	if err := importStage(ctx, tx, src, tbl, s, in.Progress); err != nil {
		return rep, err
	}
	if err := importMerge(ctx, tx, &rep); err != nil {
		return rep, err
	}
	for _, name := range []string{"Preregistration", "VerificationToken"} {
		c := ImportCount{Table: name}
		var exists bool
		if err := src.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, tbl(name)).Scan(&exists); err != nil {
			return rep, fmt.Errorf("source: %w", err)
		}
		if exists {
			if err := src.QueryRow(ctx, `SELECT count(*) FROM `+tbl(name)).Scan(&c.Read); err != nil {
				return rep, fmt.Errorf("source: %w", err)
			}
		}
		c.Skipped = c.Read
		rep.Counts = append(rep.Counts, c)
	}
	if len(rep.ConflictLines) > 0 && !in.SkipConflicts {
		return rep, Errorf(CodeConflict, "%d source user(s) conflict; nothing was written (--skip-conflicts imports the rest)", len(rep.ConflictLines))
	}
	if in.DryRun {
		return rep, nil // the deferred Rollback undoes everything
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, err
	}
	s.forgetLegacyHashes()
	return rep, nil
}

// importStage streams the source tables into temporary staging tables.
func importStage(ctx context.Context, tx, src pgx.Tx, tbl func(string) string, s *Service, progress func(string, int64, int64)) error {
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	if _, err := tx.Exec(ctx, `
		CREATE TEMP TABLE import_users (
			id text, name text, email text, email_verified timestamptz, image text,
			is_active boolean, role text, created_at timestamptz, conflict boolean NOT NULL DEFAULT false
		) ON COMMIT DROP;
		CREATE TEMP TABLE import_credentials (
			id text, user_id text, password_hash text, created_at timestamptz
		) ON COMMIT DROP;
		CREATE TEMP TABLE import_accounts (
			user_id text, type text, provider text, provider_account_id text,
			refresh_token text, access_token text, expires_at integer, token_type text,
			scope text, id_token text, session_state text, created_at timestamptz
		) ON COMMIT DROP`); err != nil {
		return err
	}
	// timestamp(3) without time zone holds UTC: AT TIME ZONE 'UTC' says so.
	copyTable := func(name, table string, cols []string, query string, seal func([]any) error) error {
		var total, done int64
		if err := src.QueryRow(ctx, `SELECT count(*) FROM `+tbl(name)).Scan(&total); err != nil {
			return fmt.Errorf("source: %w", err)
		}
		progress(name, 0, total)
		rows, err := src.Query(ctx, query)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		defer rows.Close()
		_, err = tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if !rows.Next() {
				if rows.Err() == nil {
					progress(name, done, total)
				}
				return nil, rows.Err()
			}
			if done++; done%progressEvery == 0 {
				progress(name, done, total)
			}
			vals, err := rows.Values()
			if err != nil {
				return nil, err
			}
			if seal != nil {
				if err := seal(vals); err != nil {
					return nil, err
				}
			}
			return vals, nil
		}))
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}
	if err := copyTable("User", "import_users",
		[]string{"id", "name", "email", "email_verified", "image", "is_active", "role", "created_at"},
		`SELECT id, name, email, "emailVerified" AT TIME ZONE 'UTC', image, "isActive", role, "createdAt" AT TIME ZONE 'UTC' FROM `+tbl("User"),
		nil); err != nil {
		return err
	}
	if err := copyTable("Credential", "import_credentials",
		[]string{"id", "user_id", "password_hash", "created_at"},
		`SELECT id, "userId", "passwordHash", "createdAt" AT TIME ZONE 'UTC' FROM `+tbl("Credential"),
		nil); err != nil {
		return err
	}
	return copyTable("Account", "import_accounts",
		[]string{"user_id", "type", "provider", "provider_account_id", "refresh_token", "access_token",
			"expires_at", "token_type", "scope", "id_token", "session_state", "created_at"},
		`SELECT "userId", type, provider, "providerAccountId", refresh_token, access_token,
			expires_at, token_type, scope, id_token, session_state, "createdAt" AT TIME ZONE 'UTC' FROM `+tbl("Account"),
		func(v []any) error {
			provider, _ := v[2].(string)
			id, _ := v[3].(string)
			for i, col := range map[int]string{4: colRefreshToken, 5: colAccessToken, 9: colIDToken} {
				t, ok := v[i].(string)
				if !ok {
					continue
				}
				sealed, err := s.sealProviderToken(provider, id, col, &t)
				if err != nil {
					return err
				}
				v[i] = *sealed
			}
			return nil
		})
}

// importMerge inserts the staged rows that are not already there, set-based.
func importMerge(ctx context.Context, tx pgx.Tx, rep *ImportReport) error {
	// A user conflicts when its email is equal case-insensitively to another
	// source user's, or to a different nextsecure user's.
	if _, err := tx.Exec(ctx, `
		UPDATE import_users s SET conflict = true
		WHERE lower(s.email) IN (SELECT lower(email) FROM import_users GROUP BY 1 HAVING count(*) > 1)
		   OR EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(s.email) AND u.id <> s.id)`); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `
		SELECT lower(s.email), string_agg(s.id, ', ' ORDER BY s.id), string_agg(DISTINCT u.id, ', ')
		FROM import_users s LEFT JOIN users u ON lower(u.email) = lower(s.email) AND u.id <> s.id
		WHERE s.conflict GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var email, ids string
		var dest *string
		if err := rows.Scan(&email, &ids, &dest); err != nil {
			return err
		}
		line := fmt.Sprintf("%s: users %s in the source", email, ids)
		if dest != nil {
			line += fmt.Sprintf(", user %s in nextsecure", *dest)
		}
		rep.ConflictLines = append(rep.ConflictLines, line)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	users := ImportCount{Table: "User"}
	if err := tx.QueryRow(ctx, `
		SELECT count(*),
		       count(*) FILTER (WHERE s.conflict),
		       count(*) FILTER (WHERE NOT s.conflict AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.id))
		FROM import_users s`).Scan(&users.Read, &users.Conflicts, &users.Already); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO users (id, name, email, email_verified, image, is_active, role, created_at)
		SELECT id, name, email, email_verified, image, is_active, role, created_at
		FROM import_users WHERE NOT conflict
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	users.Imported = tag.RowsAffected()
	users.Skipped = users.Conflicts

	// A credential or account comes along when its user is imported or was
	// already there under the same id; it is skipped when its user conflicts.
	creds := ImportCount{Table: "Credential"}
	if err := tx.QueryRow(ctx, `
		SELECT count(*),
		       count(*) FILTER (WHERE iu.conflict IS NOT false),
		       count(*) FILTER (WHERE iu.conflict IS false AND EXISTS (SELECT 1 FROM credentials x WHERE x.id = c.id OR x.user_id = c.user_id))
		FROM import_credentials c LEFT JOIN import_users iu ON iu.id = c.user_id`).Scan(&creds.Read, &creds.Skipped, &creds.Already); err != nil {
		return err
	}
	if tag, err = tx.Exec(ctx, `
		INSERT INTO credentials (id, user_id, password_hash, created_at)
		SELECT c.id, c.user_id, c.password_hash, c.created_at
		FROM import_credentials c JOIN import_users iu ON iu.id = c.user_id AND NOT iu.conflict
		ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	creds.Imported = tag.RowsAffected()

	accts := ImportCount{Table: "Account"}
	if err := tx.QueryRow(ctx, `
		SELECT count(*),
		       count(*) FILTER (WHERE iu.conflict IS NOT false),
		       count(*) FILTER (WHERE iu.conflict IS false AND x.user_id = a.user_id),
		       count(*) FILTER (WHERE iu.conflict IS false AND x.user_id <> a.user_id)
		FROM import_accounts a
		LEFT JOIN import_users iu ON iu.id = a.user_id
		LEFT JOIN accounts x ON x.provider = a.provider AND x.provider_account_id = a.provider_account_id`).Scan(
		&accts.Read, &accts.Skipped, &accts.Already, &accts.Conflicts); err != nil {
		return err
	}
	if tag, err = tx.Exec(ctx, `
		INSERT INTO accounts (user_id, type, provider, provider_account_id, refresh_token, access_token,
			expires_at, token_type, scope, id_token, session_state, created_at)
		SELECT a.user_id, a.type, a.provider, a.provider_account_id, a.refresh_token, a.access_token,
			a.expires_at, a.token_type, a.scope, a.id_token, a.session_state, a.created_at
		FROM import_accounts a JOIN import_users iu ON iu.id = a.user_id AND NOT iu.conflict
		ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	accts.Imported = tag.RowsAffected()
	// A provider account linked to a different nextsecure user is a conflict too.
	rows, err = tx.Query(ctx, `
		SELECT a.provider, a.provider_account_id, a.user_id, x.user_id
		FROM import_accounts a
		JOIN import_users iu ON iu.id = a.user_id AND NOT iu.conflict
		JOIN accounts x ON x.provider = a.provider AND x.provider_account_id = a.provider_account_id AND x.user_id <> a.user_id
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var provider, id, srcUser, destUser string
		if err := rows.Scan(&provider, &id, &srcUser, &destUser); err != nil {
			return err
		}
		rep.ConflictLines = append(rep.ConflictLines, fmt.Sprintf("%s account %s: user %s in the source, user %s in nextsecure", provider, id, srcUser, destUser))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	accts.Skipped += accts.Conflicts
	rep.Counts = append(rep.Counts, users, creds, accts)
	return nil
}
