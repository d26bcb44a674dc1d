package service_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPurgeDeletesBacklogInBatches: a backlog larger than one batch is
// deleted completely, by several bounded statements, and what is live stays.
func TestPurgeDeletesBacklogInBatches(t *testing.T) {
	t.Parallel()
	svc, rec, pool := newTracedService(t)
	ctx := context.Background()
	// The traced service runs on the wall clock; the rows are placed around it.
	now := time.Now().UTC()
	const expired, live = 12_345, 7
	if _, err := pool.Exec(ctx, `INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO sessions (id, user_id, token_hash, expires_at)
		SELECT 's' || i, 'u1', sha256(i::text::bytea),
		       CASE WHEN i <= $1::int THEN $3::timestamptz - interval '1 hour' ELSE $3::timestamptz + interval '1 hour' END
		FROM generate_series(1, $1::int + $2::int) AS i`, expired, live, now); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if err := svc.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var deletes int
	for _, sql := range rec.take() {
		if strings.HasPrefix(sql, "-- name: DeleteExpiredSessions") || strings.Contains(sql, "DELETE FROM sessions WHERE id = ANY") {
			deletes++
		}
	}
	// 24 × 500 + 345: the last batch, short, ends the loop.
	if want := 25; deletes != want {
		t.Errorf("got %d DELETE statements on sessions, want %d (batches of 500)", deletes, want)
	}
	var left, kept int
	if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE expires_at <= $1), count(*) FILTER (WHERE expires_at > $1)
		FROM sessions`, now).Scan(&left, &kept); err != nil {
		t.Fatal(err)
	}
	if left != 0 || kept != live {
		t.Errorf("after purge: got %d expired and %d live sessions, want 0 and %d", left, kept, live)
	}
}
