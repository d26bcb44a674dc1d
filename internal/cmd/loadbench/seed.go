package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nextsecure/nextsecure/internal/password"
)

// seedPassword is every seeded user's password.
const seedPassword = "loadbench-Seeded-Passw0rd-7421"

// seedData is what the scenarios need from the seeded database.
type seedData struct {
	emails     []string // a sample of the seeded users' emails, spread over all of them
	userIDs    []string // the ids of the same sample
	tokens     []string // session tokens (raw, as a client holds them) of the same sample
	sessionIDs []string // the ids of those sessions
	adminToken string   // a session of the admin (user 0)
	rareQs     []string // admin search terms that match exactly one user each
	commonQ    string   // an admin search term that matches every user
	expiredAt  time.Time
	expired    int    // sessions seeded to expire at expiredAt, for the purge scenario
	dsn        string // the bench database
}

// seedSpec says how much to seed.
type seedSpec struct {
	users    int // users, each with a credential, 2 sessions and events
	sample   int // users whose emails, ids and tokens the scenarios rotate over
	events   int // audit events per user
	expired  int // extra sessions that expire in a day, for the purge scenario
	prereg   int // pending registrations, in percent of users
	sessions int // sessions per user
}

func recreateDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	id := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+id)
	return err
}

// migrateUp runs "nextsecure migrate up", as an operator would.
func migrateUp(ctx context.Context, bin, dsn string) error {
	cmd := exec.CommandContext(ctx, bin, "migrate", "up")
	cmd.Dir = os.TempDir() // no stray .env
	cmd.Env = append(serverEnv(), "DATABASE_URL="+dsn)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("migrate up: %w: %s", err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// seedEmail is the email of seeded user i.
func seedEmail(i int) string { return fmt.Sprintf("bench-user-%07d@example.com", i) }

// seed inserts, with COPY streamed row by row (memory stays flat at any
// size): users active and verified, user 0 an admin and the rest of role
// user, created one second apart (the newest last), each with a credential
// holding one precomputed argon2id hash of seedPassword, spec.sessions live
// sessions and spec.events audit events; spec.prereg percent as many pending
// registrations; and spec.expired sessions that expire in a day (the
// purge scenario purges them with a clock 25 hours ahead, so the servers' own
// periodic purge leaves them alone). Then it analyzes the tables. The
// session tokens of the sample are random; everyone else's token hashes are
// random bytes.
func seed(ctx context.Context, dsn string, spec seedSpec) (seedData, error) {
	hash, err := password.Hash(seedPassword)
	if err != nil {
		return seedData{}, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return seedData{}, err
	}
	defer conn.Close(ctx)

	now := time.Now().UTC().Truncate(time.Microsecond)
	n := spec.users
	stride := max(1, n/max(1, spec.sample))
	sampled := func(i int) bool { return i%stride == 0 && i/stride < spec.sample }
	sd := seedData{commonQ: "example.com", expiredAt: now.Add(24 * time.Hour), expired: spec.expired, dsn: dsn}
	created := func(i int) time.Time { return now.Add(-time.Duration(n-i) * time.Second) }
	uid := func(i int) string { return fmt.Sprintf("lbu%023d", i) }
	for i := range n {
		if sampled(i) {
			sd.emails = append(sd.emails, seedEmail(i))
			sd.userIDs = append(sd.userIDs, uid(i))
			sd.rareQs = append(sd.rareQs, fmt.Sprintf("user-%07d@", i))
		}
	}

	// The seed is consistent by construction: skip the foreign-key checks,
	// one trigger per row that would take most of the seeding time (the
	// throwaway cluster's user is a superuser).
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return sd, err
	}

	// Indexes are built faster once than row by row (the trigram GIN
	// indexes most of all: 1,000,000 users took 2 minutes with them): drop
	// the seeded tables' indexes that back no constraint, and recreate them
	// from their own definitions after the COPY.
	recreate, err := dropIndexes(ctx, conn, "users", "credentials", "sessions", "auth_events", "preregistrations")
	if err != nil {
		return sd, err
	}

	// copyN streams rows rows made by row(i) into table.
	copyN := func(table string, cols []string, rows int, row func(i int) []any) error {
		start := time.Now()
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == rows {
				return nil, nil
			}
			r := row(i)
			i++
			return r, nil
		})
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, src); err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		step("  %s: %d rows in %s", table, rows, time.Since(start).Round(time.Millisecond))
		return nil
	}
	err = copyN("users", []string{"id", "name", "email", "email_verified", "is_active", "role", "created_at", "updated_at"}, n,
		func(i int) []any {
			role := "user"
			if i == 0 {
				role = "admin"
			}
			c := created(i)
			return []any{uid(i), fmt.Sprintf("Bench User %d", i), seedEmail(i), c, true, role, c, c}
		})
	if err != nil {
		return sd, err
	}
	err = copyN("credentials", []string{"id", "user_id", "password_hash", "created_at", "updated_at"}, n,
		func(i int) []any { c := created(i); return []any{fmt.Sprintf("lbc%023d", i), uid(i), hash, c, c} })
	if err != nil {
		return sd, err
	}
	perUser := max(1, spec.sessions)
	err = copyN("sessions", []string{"id", "user_id", "token_hash", "created_at", "last_used_at", "expires_at", "ip", "user_agent"},
		n*perUser+spec.expired, func(k int) []any {
			var tokenHash []byte
			if k >= n*perUser { // the purge scenario's backlog
				i := k % n
				_, tokenHash = newToken()
				return []any{fmt.Sprintf("lbx%023d", k), uid(i), tokenHash, now.Add(-time.Hour), now.Add(-time.Hour),
					sd.expiredAt, "127.0.0.1", "loadbench"}
			}
			i, j := k/perUser, k%perUser
			if j == 0 && sampled(i) {
				var token string
				token, tokenHash = newToken()
				sd.tokens = append(sd.tokens, token)
				sd.sessionIDs = append(sd.sessionIDs, fmt.Sprintf("lbs%023d", k))
				if i == 0 {
					sd.adminToken = token
				}
			} else {
				_, tokenHash = newToken()
			}
			// Last uses spread over the past minute, as in a steady state:
			// the server then refreshes last_used_at (one UPDATE) about
			// once a minute per session, evenly, rather than in one burst
			// when every seeded session turns a minute old together.
			used := now.Add(-time.Duration(i%600) * 100 * time.Millisecond)
			return []any{fmt.Sprintf("lbs%023d", k), uid(i), tokenHash, used, used,
				used.Add(720 * time.Hour), "127.0.0.1", "loadbench"}
		})
	if err != nil {
		return sd, err
	}
	if spec.events > 0 {
		err = copyN("auth_events", []string{"user_id", "actor_id", "type", "ip", "user_agent", "detail", "created_at"},
			n*spec.events, func(k int) []any {
				i, j := k%n, k/n // user by user interleaved, as time passes
				id := uid(i)
				return []any{id, id, "login", "127.0.0.1", "loadbench", "",
					created(i).Add(time.Duration(j) * time.Minute)}
			})
		if err != nil {
			return sd, err
		}
	}
	if pre := n * spec.prereg / 100; pre > 0 {
		err = copyN("preregistrations", []string{"id", "full_name", "email", "password_hash", "created_at", "expires_at"}, pre,
			func(i int) []any {
				return []any{fmt.Sprintf("lbp%023d", i), "Bench Pending", fmt.Sprintf("bench-pending-%07d@example.com", i),
					hash, now, now.Add(24 * time.Hour)}
			})
		if err != nil {
			return sd, err
		}
	}
	if _, err := conn.Exec(ctx, "RESET session_replication_role"); err != nil {
		return sd, err
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
		return sd, err
	}
	for _, def := range recreate {
		if _, err := conn.Exec(ctx, def); err != nil {
			return sd, fmt.Errorf("recreating an index: %w", err)
		}
	}
	step("  %d indexes built in %s", len(recreate), time.Since(start).Round(time.Millisecond))
	// Fresh tables have no statistics; a live database would.
	start = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE users, credentials, sessions, accounts, auth_events, preregistrations"); err != nil {
		return sd, err
	}
	step("  VACUUM ANALYZE in %s", time.Since(start).Round(time.Millisecond))
	return sd, nil
}

// dropIndexes drops the indexes of tables that back no constraint and
// returns their definitions.
func dropIndexes(ctx context.Context, conn *pgx.Conn, tables ...string) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i
		WHERE i.indrelid = ANY ($1::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, tables)
	if err != nil {
		return nil, err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := conn.Exec(ctx, "DROP INDEX "+name); err != nil {
			return nil, err
		}
	}
	return defs, nil
}

// newToken makes a session token the way package service does: base64url of
// 32 random bytes; the database keeps its SHA-256.
func newToken() (string, []byte) {
	var b [32]byte
	rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}
