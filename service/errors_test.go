package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestTranslate(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"no rows", fmt.Errorf("get: %w", pgx.ErrNoRows), CodeNotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, CodeConflict},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, CodeUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, CodeUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, CodeUnavailable},
		{"syntax error", &pgconn.PgError{Code: "42601"}, CodeInternal},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, CodeUnavailable},
		{"serialization failure", fmt.Errorf("commit: %w", &pgconn.PgError{Code: "40001"}), CodeUnavailable},
		{"deadline", context.DeadlineExceeded, CodeUnavailable},
		{"client gone", fmt.Errorf("query: %w", context.Canceled), CodeUnavailable},
		{"domain error kept", Errorf(CodeInvalidToken, "x"), CodeInvalidToken},
		{"anything else", errors.New("boom"), CodeInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(translate(tt.err)); got != tt.want {
				t.Errorf("ErrorCode(translate(%v)) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestAsErrorTranslatesUntranslated(t *testing.T) {
	if got := AsError(fmt.Errorf("send: %w", context.Canceled)).Code; got != CodeUnavailable {
		t.Errorf("AsError(canceled).Code = %q, want %q", got, CodeUnavailable)
	}
	if got := AsError(errors.New("boom")).Code; got != CodeInternal {
		t.Errorf("AsError(boom).Code = %q, want %q", got, CodeInternal)
	}
}
