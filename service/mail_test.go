package service_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nextsecure/nextsecure/internal/mail"
	"github.com/nextsecure/nextsecure/internal/migrate"
	"github.com/nextsecure/nextsecure/internal/testdb"
	"github.com/nextsecure/nextsecure/service"
)

// statements records the SQL every connection of a pool sends.
type statements struct {
	mu  sync.Mutex
	sql []string
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	sql := strings.Join(strings.Fields(d.SQL), " ")
	// River wakes the workers with a NOTIFY after an insert, at most once
	// per 100 ms per process, whatever the job: it tells that a job is
	// there, not which, and comes and goes with the clock, not the email.
	if strings.Contains(sql, "pg_notify") {
		return ctx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sql = append(s.sql, sql)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns the statements recorded since the last take.
func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.sql
	s.sql = nil
	return got
}

// newTracedService returns a service on a fresh database whose statements
// are recorded, and a plain pool on the same database for setting up.
func newTracedService(t *testing.T) (*service.Service, *statements, *pgxpool.Pool) {
	t.Helper()
	dsn := testdb.NewURL(t)
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	rec := &statements{}
	pc.ConnConfig.Tracer = rec
	traced, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	plain, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	return service.New(traced, service.DefaultConfig(), nil, nil), rec, plain
}

// TestMailRequestsDoTheSameWork: forgot-password and resend-verification
// send the same statements whatever the email (unknown, pending, an
// account): one transaction that inserts one job (resend first voids the
// email's verification tokens, a delete whatever the email). The lookup
// happens in the job, out of the request's time.
func TestMailRequestsDoTheSameWork(t *testing.T) {
	t.Parallel()
	svc, rec, plain := newTracedService(t)
	ctx := context.Background()
	if _, err := plain.Exec(ctx, `INSERT INTO users (id, name, email, email_verified, is_active, role)
		VALUES ('u1', 'Owner', 'owner@example.com', now(), true, 'user')`); err != nil {
		t.Fatal(err)
	}
	if err := svc.Register(ctx, service.RegisterInput{Name: "Pat", Email: "pending@example.com",
		Password: "a long pending password"}, service.Meta{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func(email string) error
	}{
		{"forgot", func(email string) error { return svc.ForgotPassword(ctx, email, service.Meta{IP: "192.0.2.1"}) }},
		{"resend", func(email string) error { return svc.ResendVerification(ctx, email, service.Meta{IP: "192.0.2.1"}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec.take()
			var first []string
			for _, email := range []string{"unknown@example.com", "owner@example.com", "pending@example.com"} {
				if err := tt.call(email); err != nil {
					t.Fatal(err)
				}
				got := rec.take()
				if first == nil {
					first = got
					n := len(got)
					if n < 3 || !strings.EqualFold(got[0], "begin") || !strings.Contains(got[n-2], "INSERT INTO river_job") ||
						!strings.EqualFold(got[n-1], "commit") {
						t.Fatalf("%s: statements %q, want one transaction ending in the job insert", email, got)
					}
					continue
				}
				if !slices.Equal(got, first) {
					t.Errorf("%s: statements %q, want the same as for an unknown email: %q", email, got, first)
				}
			}
		})
	}
}

// TestPurgeKeepsAuditForRetention: the purge deletes audit events older
// than AuditRetention and keeps the rest.
func TestPurgeKeepsAuditForRetention(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	now := time.Now().UTC()
	cfg := service.DefaultConfig()
	cfg.AuditRetention = 30 * 24 * time.Hour
	svc := service.New(pool, cfg, func() time.Time { return now }, nil)
	for _, age := range []time.Duration{31 * 24 * time.Hour, 29 * 24 * time.Hour, time.Hour} {
		if _, err := pool.Exec(ctx, `INSERT INTO auth_events (type, created_at) VALUES ('login', $1)`,
			now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM auth_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("audit events after purge = %d, want 2 (the one past retention deleted)", n)
	}
	if got := service.DefaultConfig().AuditRetention; got != 400*24*time.Hour {
		t.Errorf("default audit retention = %v, want 400 days", got)
	}
}

// TestWorkerPurgesPeriodically: the worker, as River's leader, runs the
// purge as a periodic job (the first one when it starts).
func TestWorkerPurgesPeriodically(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	svc := service.New(pool, service.DefaultConfig(), nil, nil)
	if _, err := pool.Exec(ctx, `INSERT INTO preregistrations (id, full_name, email, password_hash, expires_at)
		VALUES ('p1', 'Old', 'old@example.com', 'x', now() - interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO auth_events (type, created_at) VALUES ('login', now() - interval '401 days')`); err != nil {
		t.Fatal(err)
	}
	w, err := svc.NewWorker(mail.NewLog(nil), service.WorkerConfig{FetchPollInterval: 20 * time.Millisecond, PollOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		w.Stop(stopCtx)
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var left int
		if err := pool.QueryRow(ctx,
			"SELECT (SELECT count(*) FROM preregistrations) + (SELECT count(*) FROM auth_events)").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d expired rows left 20 s after the worker started", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadyChecksRiverSchema: /readyz's check fails while River's schema
// (the job queue, which every mail needs) is behind the binary's.
func TestReadyChecksRiverSchema(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	ctx := context.Background()
	svc := service.New(pool, service.DefaultConfig(), nil, nil)
	if err := svc.Ready(ctx, migrate.Latest()); err != nil {
		t.Fatalf("Ready on a migrated database = %v, want nil", err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration)"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Ready(ctx, migrate.Latest()); service.ErrorCode(err) != service.CodeUnavailable {
		t.Errorf("Ready with River's schema behind = %v, want %s", err, service.CodeUnavailable)
	}
}
