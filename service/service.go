// Package service holds nextsecure's workflows: registration with email
// verification, sign-in and sessions, password reset, self-service and
// administration. It composes the queries of package db in transactions and
// knows nothing of HTTP.
//
// Every exported method returns either nil or an error whose code (see
// ErrorCode) is one of the Code constants; the doc comments name them.
package service

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/nextsecure/nextsecure/db"
	"github.com/nextsecure/nextsecure/internal/password"
	"github.com/nextsecure/nextsecure/internal/secrets"
)

// Config holds the workflows' settings.
type Config struct {
	// BaseURL is the public origin that email links start with.
	BaseURL string
	// VerifyTTL, ResetTTL and SessionTTL are the lifetimes of verification
	// tokens (and pending registrations), reset tokens and sessions.
	VerifyTTL  time.Duration
	ResetTTL   time.Duration
	SessionTTL time.Duration
	// MagicLinkTTL is the lifetime of a magic sign-in link (MAGIC_LINK_TTL);
	// zero means the default, 15 minutes.
	MagicLinkTTL time.Duration
	// SessionMaxTTL is a session's absolute lifetime from sign-in, however
	// active: sliding never takes its expiry past created_at plus this
	// (SESSION_MAX_TTL). Zero means the default, 2160h (90 days).
	SessionMaxTTL time.Duration
	// RateLimits enables every throttle; off is for benchmarks only.
	RateLimits bool
	// HashSlots bounds the password hashes computed at once (0: GOMAXPROCS)
	// and HashWait how long a request may wait for a slot: one that would
	// be expected to wait longer is refused (503) without waiting, after
	// HashRefusePace (password.Limiter.Pace).
	HashSlots      int
	HashWait       time.Duration
	HashRefusePace time.Duration
	// Secrets seals what is stored encrypted under AUTH_SECRET (provider
	// tokens); nil only where nothing is sealed or opened.
	Secrets *secrets.Keyring
	// AuditRetention is how long the audit trail (auth_events) is kept.
	AuditRetention time.Duration
	// Providers are the sign-in providers (GitHub, OpenID Connect).
	Providers []ProviderConfig
	// ProviderClient makes the calls to providers; nil means a client with
	// a 10 s timeout. Response bodies are capped at 1 MiB either way.
	ProviderClient *http.Client
	// ProviderRetryMax is the longest wait between OIDC discovery attempts
	// while an issuer is unreachable (zero: a minute).
	ProviderRetryMax time.Duration
}

// DefaultConfig returns the contract's defaults.
func DefaultConfig() Config {
	return Config{
		BaseURL:    "http://localhost:8080",
		VerifyTTL:  24 * time.Hour,
		ResetTTL:   time.Hour,
		SessionTTL: 720 * time.Hour,
		// MagicLinkTTL is 15 minutes.
		MagicLinkTTL: defaultMagicLinkTTL,
		// SessionMaxTTL is 90 days.
		SessionMaxTTL:  defaultSessionMaxTTL,
		RateLimits:     true,
		HashWait:       2 * time.Second,
		AuditRetention: 400 * 24 * time.Hour,
	}
}

// Service runs the workflows against one database.
type Service struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	hashes *password.Limiter
	legacy legacyHashes          // bcrypt hashes still in use (legacy_timing.go)
	meters *meters               // the service's own Prometheus series (metrics.go)
	jobs   *river.Client[pgx.Tx] // inserts jobs (mail.go); a Worker works them

	// providers are the configured sign-in providers by id (oauth_providers.go);
	// stop ends their background discovery.
	providers map[string]*provider
	stop      context.CancelFunc

	// beforeSwap, when set by a test, runs in ReencryptSecrets between
	// reading a row and its compare-and-swap.
	beforeSwap func()
}

// New returns a Service. now is the clock (time.Now in production; tests
// inject their own to cross expiries without sleeping).
func New(pool *pgxpool.Pool, cfg Config, now func() time.Time, logger *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newMeters()
	s := &Service{
		pool:   pool,
		q:      db.New(pool),
		cfg:    cfg,
		now:    func() time.Time { return now().UTC().Truncate(time.Microsecond) },
		log:    logger,
		hashes: m.timeWaits(newHashLimiter(cfg)),
		meters: m,
		jobs:   newInserter(),
	}
	var bg context.Context
	bg, s.stop = context.WithCancel(context.Background())
	s.providers = s.newProviders(bg)
	return s
}

// Meta describes the request a workflow runs for, for sessions and the audit trail.
type Meta struct {
	IP        string
	UserAgent string
}

// HashLimiter exposes the password-hashing limiter, for metrics.
func (s *Service) HashLimiter() *password.Limiter { return s.hashes }

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error {
	return translate(s.pool.Ping(ctx))
}

// txAttempts is how often tx runs a transaction that PostgreSQL aborted as
// a serialization failure or a deadlock victim before it gives up.
const txAttempts = 3

// tx runs fn in a transaction and translates driver errors. A transaction
// aborted by a serialization failure (40001) or chosen as a deadlock victim
// (40P01) is run again, from the start, up to txAttempts times in all; if it
// still fails, translate answers CodeUnavailable. fn must therefore not
// keep state from an earlier attempt that did not commit.
func (s *Service) tx(ctx context.Context, fn func(q *db.Queries) error) error {
	return s.txx(ctx, func(_ pgx.Tx, q *db.Queries) error { return fn(q) })
}

// txx is tx for workflows that also need the transaction itself (to insert
// River jobs in it). A transaction failing with a serialization failure or
// a deadlock is run again, up to txAttempts times in all.
func (s *Service) txx(ctx context.Context, fn func(tx pgx.Tx, q *db.Queries) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			return fn(tx, db.New(tx))
		})
		if !isTransient(err) || attempt == txAttempts || ctx.Err() != nil {
			break
		}
		s.log.InfoContext(ctx, "transaction retried", "attempt", attempt, "err", err)
	}
	return translate(err)
}

// Now returns the time on the service's clock, for the HTTP layer's cookie
// lifetimes.
func (s *Service) Now() time.Time { return s.now() }

// hash computes a password hash within the hashing limit. It fails with
// CodeUnavailable when no hashing slot frees up in time.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	var h string
	var err error
	if lerr := s.withHashSlot(ctx, func() { h, err = password.Hash(pw) }); lerr != nil {
		return "", lerr
	}
	return h, err
}

// verify checks a password against a stored hash within the hashing limit.
// An empty hash runs the dummy verification, so unknown users cost the same.
func (s *Service) verify(ctx context.Context, pw, hash string) (ok, rehash bool, err error) {
	legacy := s.legacyHashesPresent(ctx)
	lerr := s.withHashSlot(ctx, func() {
		if hash == "" {
			password.DummyVerify(pw)
		} else {
			ok, rehash, err = password.Verify(pw, hash)
		}
		if legacy && !ok {
			padLegacy(pw, hash) // every failure costs the same (legacy_timing.go)
		}
	})
	if lerr != nil {
		return false, false, lerr
	}
	return ok, rehash, err
}

func newHashLimiter(cfg Config) *password.Limiter {
	l := password.NewLimiter(cfg.HashSlots, cfg.HashWait)
	l.Pace = cfg.HashRefusePace
	return l
}

func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	if err := s.hashes.Do(ctx, fn); err != nil {
		return errBusy(err)
	}
	return nil
}

// admitHash refuses at once a request that will need a password hash when
// the hashes already waiting would keep it past the limiter's maximum wait:
// under overload the refusal then costs no database work.
func (s *Service) admitHash(ctx context.Context) error {
	if err := s.hashes.Admit(ctx); err != nil {
		return errBusy(err)
	}
	return nil
}

func errBusy(err error) error {
	return &Error{Code: CodeUnavailable, Message: "The service is busy; try again shortly.",
		RetryAfter: time.Second, err: err}
}

// Ready checks that the database answers, its schema is at version want
// (the latest migration the binary carries) and River's schema (the job
// queue's) at the latest version the binary carries.
// Errors: CodeUnavailable.
func (s *Service) Ready(ctx context.Context, want int64) error {
	var have, haveRiver int64
	err := s.pool.QueryRow(ctx,
		`SELECT (SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied),
		        (SELECT COALESCE(max(version), 0) FROM river_migration WHERE line = 'main')`).Scan(&have, &haveRiver)
	if err != nil {
		return unavailable(err)
	}
	if have != want || haveRiver != riverLatest() {
		return &Error{Code: CodeUnavailable, Message: "The database schema is not at the expected version.",
			RetryAfter: retryAfterUnavailable}
	}
	return nil
}
