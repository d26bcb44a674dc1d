package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Code is a stable, machine-readable error code; the HTTP layer maps each to
// a status and clients may rely on it.
type Code string

// The error codes of the contract (API.md).
const (
	CodeValidation      Code = "validation_failed"
	CodeInvalidToken    Code = "invalid_token"
	CodeInvalidCreds    Code = "invalid_credentials"
	CodeInvalidCode     Code = "invalid_code"
	CodeAccountDisabled Code = "account_disabled"
	CodeUnauthenticated Code = "unauthenticated"
	CodeForbidden       Code = "forbidden"
	CodeNotFound        Code = "not_found"
	CodeConflict        Code = "conflict"
	CodeLastLoginMethod Code = "last_login_method"
	CodeRateLimited     Code = "rate_limited"
	CodeUnavailable     Code = "unavailable"
	CodeInternal        Code = "internal"
)

// Error is a domain error whose message is safe to show to users.
type Error struct {
	Code    Code
	Message string
	// Fields lists per-field problems of a CodeValidation error.
	Fields []FieldError
	// RetryAfter tells a throttled or unavailable caller when to come back.
	RetryAfter time.Duration
	// err is the underlying cause, for logs only.
	err error
}

// FieldError is one invalid input field.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.err }

// Errorf returns an *Error with the given code and message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: its own for an *Error, CodeInternal for
// anything else, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as an *Error: its own, or the translation of a driver
// or context error, or CodeInternal for anything else.
func AsError(err error) *Error {
	var e *Error
	if errors.As(translate(err), &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "Something went wrong on our side.", err: err}
}

// retryAfterUnavailable is what a client is told when the database is out of reach.
const retryAfterUnavailable = 5 * time.Second

// translate turns database driver errors into domain errors, once, so callers
// see codes and never SQL: no rows is not found, a unique violation is a
// conflict, and a database out of reach (down, or the pool exhausted until the
// request's deadline) is unavailable.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &Error{Code: CodeNotFound, Message: "Not found.", err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return &Error{Code: CodeConflict, Message: "That conflicts with existing data.", err: err}
		case pgErr.Code == "40001", pgErr.Code == "40P01":
			// What tx did not resolve by running the transaction again.
			return &Error{Code: CodeUnavailable, Message: "The request collided with another one; try again.",
				RetryAfter: time.Second, err: err}
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "53300",
			strings.HasPrefix(pgErr.Code, "08"):
			return unavailable(err)
		}
		return &Error{Code: CodeInternal, Message: "Something went wrong on our side.", err: err}
	}
	if errors.Is(err, context.Canceled) {
		// The client went away (or the server is stopping): nobody reads
		// the answer, and it is no bug of ours.
		return &Error{Code: CodeUnavailable, Message: "The request was cancelled.", err: err}
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return unavailable(err)
	}
	return &Error{Code: CodeInternal, Message: "Something went wrong on our side.", err: err}
}

func unavailable(err error) *Error {
	return &Error{Code: CodeUnavailable, Message: "The service is temporarily unavailable; try again shortly.",
		RetryAfter: retryAfterUnavailable, err: err}
}

// isTransient reports whether err is a serialization failure (40001) or a
// deadlock (40P01): PostgreSQL aborted the transaction because of another
// one, and running it again is expected to succeed.
func isTransient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}
