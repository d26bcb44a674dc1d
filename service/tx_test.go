package service

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/testdb"
)

// TestTxRetriesTransientFailures: a transaction that PostgreSQL aborts as a
// deadlock victim or a serialization failure runs again; if the failure
// persists the answer is 503 unavailable with a Retry-After, never internal.
func TestTxRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	s := New(testdb.New(t), DefaultConfig(), nil, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		name      string
		code      string
		failFirst int // attempts that fail before one succeeds
		wantRuns  int
		want      Code
	}{
		{"deadlock once", "40P01", 1, 2, ""},
		{"serialization failure twice", "40001", 2, 3, ""},
		{"deadlock persists", "40P01", 100, txAttempts, CodeUnavailable},
		{"serialization failure persists", "40001", 100, txAttempts, CodeUnavailable},
		{"other errors are not retried", "23505", 100, 1, CodeConflict},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			err := s.tx(ctx, func(q *db.Queries) error {
				runs++
				if err := q.ResetRateLimit(ctx, "tx-test"); err != nil { // a real statement in the transaction
					return err
				}
				if runs <= tt.failFirst {
					return &pgconn.PgError{Code: tt.code, Message: "forced"}
				}
				return nil
			})
			if runs != tt.wantRuns {
				t.Errorf("runs = %d, want %d", runs, tt.wantRuns)
			}
			if got := ErrorCode(err); got != tt.want {
				t.Errorf("ErrorCode = %q, want %q (err %v)", got, tt.want, err)
			}
			var e *Error
			if tt.want == CodeUnavailable && (!errors.As(err, &e) || e.RetryAfter <= 0) {
				t.Errorf("err = %v, want a Retry-After", err)
			}
		})
	}
}
