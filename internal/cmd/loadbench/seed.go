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
	emails []string // seeded users' emails, in order
	tokens []string // session tokens (raw, as a client holds them)
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

// seed inserts users active, verified, role user, each with a credential
// holding one precomputed argon2id hash of seedPassword, and one live session
// for each of the first sessions users; then it analyzes the tables.
func seed(ctx context.Context, dsn string, users, sessions int) (seedData, error) {
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
	var sd seedData
	userRows := make([][]any, 0, users)
	credRows := make([][]any, 0, users)
	sessRows := make([][]any, 0, sessions)
	for i := range users {
		id := fmt.Sprintf("lbu%023d", i)
		email := fmt.Sprintf("bench-user-%05d@example.com", i)
		sd.emails = append(sd.emails, email)
		userRows = append(userRows, []any{id, fmt.Sprintf("Bench User %d", i), email, now, true, "user", now, now})
		credRows = append(credRows, []any{fmt.Sprintf("lbc%023d", i), id, hash, now, now})
		if i < sessions {
			token, tokenHash := newToken()
			sd.tokens = append(sd.tokens, token)
			// Last uses spread over the past minute, as in a steady state:
			// the server then refreshes last_used_at (one UPDATE) about
			// once a minute per session, evenly, rather than in one burst
			// when every seeded session turns a minute old together.
			used := now.Add(-time.Duration(i%600) * 100 * time.Millisecond)
			sessRows = append(sessRows, []any{fmt.Sprintf("lbs%023d", i), id, tokenHash, used, used,
				used.Add(720 * time.Hour), "127.0.0.1", "loadbench"})
		}
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, t := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"users", []string{"id", "name", "email", "email_verified", "is_active", "role", "created_at", "updated_at"}, userRows},
			{"credentials", []string{"id", "user_id", "password_hash", "created_at", "updated_at"}, credRows},
			{"sessions", []string{"id", "user_id", "token_hash", "created_at", "last_used_at", "expires_at", "ip", "user_agent"}, sessRows},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return seedData{}, err
	}
	// Fresh tables have no statistics; a live database would.
	if _, err := conn.Exec(ctx, "ANALYZE users, credentials, sessions, accounts"); err != nil {
		return seedData{}, err
	}
	return sd, nil
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
