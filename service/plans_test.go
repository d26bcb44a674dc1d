package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// planRecorder is a db.DBTX that records the plan of every statement it
// runs, then runs it: EXPLAIN (FORMAT JSON) with the same arguments (the
// custom plan, made for these values) and, unless customOnly, the generic
// plan that a named prepared statement switches to after five executions
// (what the server's pool, which caches statements, may end up running).
type planRecorder struct {
	pool       *pgxpool.Pool
	customOnly bool

	mu    sync.Mutex
	plans []recordedPlan
}

type recordedPlan struct {
	mode string // "custom" or "generic"
	plan any    // EXPLAIN's JSON
	err  error
}

var _ db.DBTX = (*planRecorder)(nil)

func (r *planRecorder) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.explain(ctx, sql, args)
	return r.pool.Exec(ctx, sql, args...)
}

func (r *planRecorder) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.explain(ctx, sql, args)
	return r.pool.Query(ctx, sql, args...)
}

func (r *planRecorder) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r.explain(ctx, sql, args)
	return r.pool.QueryRow(ctx, sql, args...)
}

func (r *planRecorder) explain(ctx context.Context, sql string, args []any) {
	var custom []byte
	err := r.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&custom)
	r.record("custom", custom, err)
	if r.customOnly {
		return
	}
	generic, err := explainGeneric(ctx, r.pool, sql, args)
	r.record("generic", generic, err)
}

func (r *planRecorder) record(mode string, js []byte, err error) {
	var plan any
	if err == nil {
		err = json.Unmarshal(js, &plan)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plans = append(r.plans, recordedPlan{mode: mode, plan: plan, err: err})
}

func (r *planRecorder) take() []recordedPlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.plans
	r.plans = nil
	return p
}

// explainGeneric prepares sql as a named statement and explains its generic
// plan (plan_cache_mode = force_generic_plan), executed with args.
func explainGeneric(ctx context.Context, pool *pgxpool.Pool, sql string, args []any) ([]byte, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	c := conn.Conn()
	sd, err := c.Prepare(ctx, "plan_check", sql)
	if err != nil {
		return nil, err
	}
	defer c.Deallocate(ctx, "plan_check")
	// EXECUTE takes no bind parameters: pass the arguments as literals,
	// which PostgreSQL itself quotes.
	lits := make([]string, len(sd.ParamOIDs))
	for i, oid := range sd.ParamOIDs {
		var typ string
		if err := c.QueryRow(ctx, "SELECT $1::oid::regtype::text", oid).Scan(&typ); err != nil {
			return nil, err
		}
		var lit string
		if err := c.QueryRow(ctx, fmt.Sprintf("SELECT quote_nullable($1::%s::text)", typ), args[i]).Scan(&lit); err != nil {
			return nil, err
		}
		lits[i] = lit + "::" + typ
	}
	execute := "EXECUTE plan_check"
	if len(lits) > 0 {
		execute += "(" + strings.Join(lits, ", ") + ")"
	}
	var js []byte
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+execute).Scan(&js)
	})
	return js, err
}

// seqScans returns the relations that plan (EXPLAIN's JSON) reads with a
// sequential scan, among tables.
func seqScans(plan any, tables []string) []string {
	var found []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["Node Type"] == "Seq Scan" {
				if rel, _ := v["Relation Name"].(string); slices.Contains(tables, rel) {
					found = append(found, rel)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(plan)
	return found
}

// mustSeedForPlans fills a database with a few thousand rows in every table
// that the hot queries read (enough for the planner to prefer an index where
// one serves), one in fifty of what can expire expired (a fifth of the sessions, stored last, as a backlog after a pause of the purge), and analyzes it.
func mustSeedForPlans(tb testing.TB, pool *pgxpool.Pool, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO users (id, name, email, email_verified, is_active, role, created_at)
		 SELECT 'u' || i, 'Plan User ' || i, 'plan-user-' || i || '@example.com', $1, true,
		        CASE WHEN i % 1000 = 0 THEN 'admin' ELSE 'user' END, $1::timestamptz - i * interval '1 second'
		 FROM generate_series(1, 5000) AS i`,
		`INSERT INTO credentials (id, user_id, password_hash) SELECT 'c' || id, id, 'hash' FROM users`,
		`INSERT INTO sessions (id, user_id, token_hash, created_at, last_used_at, expires_at)
		 SELECT 's' || i, 'u' || (i % 5000 + 1), sha256(i::text::bytea), $1, $1,
		        $1::timestamptz + CASE WHEN i > 8000 THEN interval '-1 day' ELSE interval '1 day' END
		 FROM generate_series(1, 10000) AS i`,
		`INSERT INTO auth_events (user_id, actor_id, type, created_at)
		 SELECT 'u' || (i % 5000 + 1), 'u' || (i % 5000 + 1), 'login', $1::timestamptz - i * interval '1 hour'
		 FROM generate_series(1, 50000) AS i`,
		`INSERT INTO rate_limits (key, window_start, count)
		 SELECT 'login:' || i, $1::timestamptz - i * interval '1 second', 1 FROM generate_series(1, 5000) AS i`,
		`INSERT INTO preregistrations (id, full_name, email, password_hash, expires_at)
		 SELECT 'p' || i, 'Pending', 'pending-' || i || '@example.com', 'hash',
		        $1::timestamptz + CASE WHEN i % 50 = 0 THEN interval '-1 day' ELSE interval '1 day' END
		 FROM generate_series(1, 3000) AS i`,
		`INSERT INTO verification_tokens (identifier, token, expires, purpose, user_id)
		 SELECT 'plan-user-' || i || '@example.com', md5(i::text), $1::timestamptz + CASE WHEN i % 50 = 0 THEN interval '-1 day' ELSE interval '1 day' END,
		        'reset_password', 'u' || i
		 FROM generate_series(1, 3000) AS i`,
		`INSERT INTO mfa_tokens (token_hash, user_id, fingerprint, expires_at)
		 SELECT sha256(('m' || i)::bytea), 'u' || i, 'f', $1::timestamptz + CASE WHEN i % 50 = 0 THEN interval '-1 day' ELSE interval '1 day' END
		 FROM generate_series(1, 3000) AS i`,
		`INSERT INTO accounts (user_id, type, provider, provider_account_id)
		 SELECT 'u' || i, 'oauth', 'github', 'gh' || i FROM generate_series(1, 2000) AS i`,
	} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = append(args, now)
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("seed: %v\n%s", err, sql)
		}
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		tb.Fatal(err)
	}
}

// largeTables are the tables that grow with the users: a sequential scan of
// any of them in a hot query is a cost that grows with the database.
var largeTables = []string{"users", "credentials", "sessions", "auth_events", "rate_limits", "preregistrations",
	"verification_tokens", "mfa_tokens", "accounts"}

// TestHotQueryPlans: no hot query reads a large table sequentially, in its
// custom plan or (where the server may run one) its generic plan. It fails
// when a plan changes to a sequential scan, for example when an index it
// relies on is dropped.
func TestHotQueryPlans(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	mustSeedForPlans(t, pool, now)
	userID, email := "u4242", "plan-user-4242@example.com"
	token := []byte("no such token hash, 32 bytes....")
	created := now.Add(-100 * time.Second)
	afterID := "u100"
	for _, tt := range []struct {
		name string
		// customOnly: the service runs it planned for its values each time
		// (see customPlan in admin.go), never with a generic plan.
		customOnly bool
		run        func(q *db.Queries) error
	}{
		{"GetSessionUser", false, func(q *db.Queries) error {
			_, err := q.GetSessionUser(ctx, db.GetSessionUserParams{TokenHash: token, Now: now})
			return ignoreNoRows(err)
		}},
		{"TouchSession", false, func(q *db.Queries) error {
			_, err := q.TouchSession(ctx, db.TouchSessionParams{Now: now, ExpiresAt: now, ID: "s2", StaleBefore: now.Add(-time.Minute)})
			return err
		}},
		{"GetLoginByEmail", false, func(q *db.Queries) error {
			_, err := q.GetLoginByEmail(ctx, email)
			return err
		}},
		{"GetUserByEmail", false, func(q *db.Queries) error {
			_, err := q.GetUserByEmail(ctx, email)
			return err
		}},
		{"GetCredentialByUser", false, func(q *db.Queries) error {
			_, err := q.GetCredentialByUser(ctx, userID)
			return err
		}},
		{"LockSignIn", false, func(q *db.Queries) error {
			_, err := q.LockSignIn(ctx, db.LockSignInParams{UserID: userID, PasswordHash: "hash"})
			return err
		}},
		{"HitRateLimit", false, func(q *db.Queries) error {
			_, err := q.HitRateLimit(ctx, db.HitRateLimitParams{Key: "login:42", Now: now, WindowFloor: now.Add(-time.Hour)})
			return err
		}},
		{"PeekRateLimit", false, func(q *db.Queries) error {
			_, err := q.PeekRateLimit(ctx, db.PeekRateLimitParams{Key: "login:42", WindowFloor: now.Add(-time.Hour)})
			return err
		}},
		{"GetPreregistrationByEmail", false, func(q *db.Queries) error {
			_, err := q.GetPreregistrationByEmail(ctx, "pending-42@example.com")
			return err
		}},
		{"ListUsers first page", false, func(q *db.Queries) error {
			_, err := q.ListUsers(ctx, db.ListUsersParams{RowLimit: 51})
			return err
		}},
		{"ListUsers next page", false, func(q *db.Queries) error {
			_, err := q.ListUsers(ctx, db.ListUsersParams{AfterCreatedAt: &created, AfterID: &afterID, RowLimit: 51})
			return err
		}},
		{"SearchUsers rare", true, func(q *db.Queries) error {
			_, err := q.SearchUsers(ctx, db.SearchUsersParams{Pattern: "user-4242@", RowLimit: 51})
			return err
		}},
		{"SearchUsers common", true, func(q *db.Queries) error {
			_, err := q.SearchUsers(ctx, db.SearchUsersParams{Pattern: "example.com", RowLimit: 51})
			return err
		}},
		{"SearchUsers rare next page", true, func(q *db.Queries) error {
			_, err := q.SearchUsers(ctx, db.SearchUsersParams{Pattern: "user-42", AfterCreatedAt: &created, AfterID: &afterID, RowLimit: 51})
			return err
		}},
		{"ListAuthEventsByUser", false, func(q *db.Queries) error {
			_, err := q.ListAuthEventsByUser(ctx, db.ListAuthEventsByUserParams{UserID: &userID, RowLimit: 51})
			return err
		}},
		{"CountActiveAdmins", false, func(q *db.Queries) error {
			_, err := q.CountActiveAdmins(ctx)
			return err
		}},
		{"DeleteExpiredSessions", false, func(q *db.Queries) error {
			_, err := q.DeleteExpiredSessions(ctx, db.DeleteExpiredSessionsParams{Now: now, BatchSize: 5000})
			return err
		}},
		{"DeleteExpiredVerificationTokens", false, func(q *db.Queries) error {
			_, err := q.DeleteExpiredVerificationTokens(ctx, db.DeleteExpiredVerificationTokensParams{Now: now, BatchSize: 5000})
			return err
		}},
		{"DeleteExpiredPreregistrations", false, func(q *db.Queries) error {
			_, err := q.DeleteExpiredPreregistrations(ctx, db.DeleteExpiredPreregistrationsParams{Now: &now, BatchSize: 5000})
			return err
		}},
		{"DeleteStaleRateLimits", false, func(q *db.Queries) error {
			_, err := q.DeleteStaleRateLimits(ctx, db.DeleteStaleRateLimitsParams{Before: now.Add(-4900 * time.Second), BatchSize: 5000})
			return err
		}},
		{"DeleteExpiredMFATokens", false, func(q *db.Queries) error {
			_, err := q.DeleteExpiredMFATokens(ctx, db.DeleteExpiredMFATokensParams{Now: now, BatchSize: 5000})
			return err
		}},
		{"DeleteAuthEventsBefore", false, func(q *db.Queries) error {
			_, err := q.DeleteAuthEventsBefore(ctx, db.DeleteAuthEventsBeforeParams{Before: now.Add(-49000 * time.Hour), BatchSize: 5000})
			return err
		}},
	} {
		// Not parallel: the purge batches delete rows the others read.
		t.Run(tt.name, func(t *testing.T) {
			rec := &planRecorder{pool: pool, customOnly: tt.customOnly}
			if err := tt.run(db.New(rec)); err != nil {
				t.Fatalf("running it: %v", err)
			}
			plans := rec.take()
			if len(plans) == 0 {
				t.Fatal("no statement recorded")
			}
			for _, p := range plans {
				if p.err != nil {
					t.Fatalf("EXPLAIN (%s plan): %v", p.mode, p.err)
				}
				if seq := seqScans(p.plan, largeTables); len(seq) > 0 {
					js, _ := json.MarshalIndent(p.plan, "", "  ")
					t.Errorf("%s plan: got a sequential scan of %v, want index scans only; plan:\n%s", p.mode, seq, js)
				}
			}
		})
	}
}

func ignoreNoRows(err error) error {
	if err == pgx.ErrNoRows {
		return nil
	}
	return err
}
