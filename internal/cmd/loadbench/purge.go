package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/service"
)

// purgeExpired runs service.Purge, as the server's periodic job does, on a
// clock set an hour after the sessions seeded to expire in a day did, so it
// purges them, which the servers' own purge, on the real clock, leaves alone
// (the pending registrations, seeded to expire then too, go with them).
func purgeExpired(ctx context.Context, sd seedData) (string, error) {
	pool, err := pgxpool.New(ctx, sd.dsn)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	ahead := sd.expiredAt.Add(time.Hour)
	svc := service.New(pool, service.DefaultConfig(), func() time.Time { return ahead }, nil)
	var before int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM sessions WHERE expires_at <= $1", ahead).Scan(&before); err != nil {
		return "", err
	}
	start := time.Now()
	if err := svc.Purge(ctx); err != nil {
		return "", err
	}
	took := time.Since(start)
	return fmt.Sprintf("service.Purge deleted %d expired sessions in %s", before, took.Round(time.Millisecond)), nil
}

// reseedExpired puts the purge scenario's backlog back (after an earlier
// cell purged it): sd.expired sessions that expire at sd.expiredAt.
func reseedExpired(ctx context.Context, sd seedData) error {
	conn, err := pgx.Connect(ctx, sd.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at, ip, user_agent)
		SELECT 'lbx' || lpad(g::text, 23, '0') || '-' || $3::text, u.id, sha256(convert_to(g::text || $3::text, 'UTF8')),
		       now() - interval '1 hour', now() - interval '1 hour', $2, '127.0.0.1', 'loadbench'
		FROM generate_series(0, $1::int - 1) AS g
		JOIN users u ON u.id = 'lbu' || lpad((g % (SELECT count(*) FROM users))::text, 23, '0')`,
		sd.expired, sd.expiredAt, runID+fmt.Sprint(time.Now().UnixNano()))
	if err == nil {
		_, err = conn.Exec(ctx, "ANALYZE sessions")
	}
	return err
}

// respreadLastUse sets the last use of the sessions the scenarios rotate
// over back to the seed's spread over the past minute, so that every cell
// that authenticates with them does the same refreshing of last_used_at
// (about one UPDATE per session a minute): a cell run within a minute of
// another would otherwise find them fresh and skip that work, and compare
// unfairly with the first (the purge's ratio did).
func respreadLastUse(ctx context.Context, sd seedData) error {
	conn, err := pgx.Connect(ctx, sd.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		UPDATE sessions s SET last_used_at = now() - (x.ord % 600) * interval '100 milliseconds'
		FROM unnest($1::text[]) WITH ORDINALITY AS x(id, ord)
		WHERE s.id = x.id`, sd.sessionIDs)
	return err
}
